// The shipped config/mtrk.ini and README's option tables, written from the option table (./options) so that neither
// can drift from what the code reads. `npm run config:docs` writes both; test/config/docs.test.ts compares. Pure.
import { iniKey, type Option, type Section } from './options'

const WIDTH = 118

/** Marks the part of README.md that `npm run config:docs` writes. */
export const README_BEGIN =
  '<!-- options: written by `npm run config:docs` from src/config/options.ts; edit the table there -->'
export const README_END = '<!-- /options -->'

const INI_HEADER = [
  'haraka-plugin-mtrk: Internet message tracking (RFC 3885 MTRK, RFC 3886, RFC 3887 MTQP).',
  'Every option is shown with its default, commented out; an empty value means the default. See README.md',
  '"Configuration". Haraka reloads this file when it changes. A value that cannot be read, an unknown option and an',
  'unknown section are logged with their section and key; the option keeps its default.',
  'Written by `npm run config:docs` from src/config/options.ts.',
]

function sentence(text: string): string {
  const s = text.charAt(0).toUpperCase() + text.slice(1)
  return /[.!?]$/.test(s) ? s : `${s}.`
}

/** `; `-prefixed comment lines of at most WIDTH characters. */
function comment(text: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > WIDTH - 2) {
      lines.push(`; ${line}`)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(`; ${line}`)
  return lines
}

/** The value written after `key=` for the default: empty when the default is unset or another option's value. */
function defaultValue(option: Option<unknown, unknown>): string {
  return option.default === null || option.defaultText !== undefined ? '' : option.kind.format(option.default)
}

function iniOption(field: string, option: Option<unknown, unknown>): string[] {
  const unset = option.defaultText === undefined ? '' : ` Default: ${option.defaultText}.`
  return [
    ...comment(`${sentence(option.doc)} Values: ${option.kind.expected}.${unset}`),
    `;${iniKey(field, option)}=${defaultValue(option)}`,
  ]
}

/** config/mtrk.ini as shipped: every option commented out with its default. */
export function renderIni(table: Record<string, Section>): string {
  const parts = [INI_HEADER.map((l) => `; ${l}`).join('\n')]
  for (const [name, section] of Object.entries(table)) {
    const options = Object.entries(section.options).map(([field, o]) => iniOption(field, o).join('\n'))
    parts.push([`[${name}]`, ...comment(section.note)].join('\n'), ...options)
  }
  return `${parts.join('\n\n')}\n`
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|')
}

function readmeDefault(option: Option<unknown, unknown>): string {
  if (option.defaultText !== undefined) return option.defaultText
  return option.default === null ? 'unset' : `\`${option.kind.format(option.default)}\``
}

/** README's option tables, one per section, with the markers around them. */
export function renderReadmeOptions(table: Record<string, Section>): string {
  const parts = [README_BEGIN]
  for (const [name, section] of Object.entries(table)) {
    const rows = Object.entries(section.options).map(
      ([field, o]) =>
        `| \`${iniKey(field, o)}\` | ${cell(readmeDefault(o))} | ${cell(o.kind.expected)} | ${cell(o.doc)} |`,
    )
    parts.push(
      `### \`[${name}]\``,
      section.note,
      ['| option | default | values | meaning |', '|---|---|---|---|', ...rows].join('\n'),
    )
  }
  parts.push(README_END)
  return parts.join('\n\n')
}

/** `readme` with the marked region replaced by `region` (markers included); throws when the markers are missing. */
export function replaceReadmeRegion(readme: string, region: string): string {
  const begin = readme.indexOf(README_BEGIN)
  const end = readme.indexOf(README_END)
  if (begin < 0 || end < begin)
    throw new Error(`README.md lacks the markers ${README_BEGIN} ... ${README_END}`)
  return readme.slice(0, begin) + region + readme.slice(end + README_END.length)
}
