// Reads the ini Haraka loaded (without its `booleans` option, so a mistyped true/false arrives as written) against the
// option table. Every value that cannot be read, every unknown option and every unknown section is reported by name;
// an unreadable value leaves the option at its default. Pure.
import { iniKey, type Option, type Section, type SectionValues } from './options'
import { closest } from './suggest'

export type IniScalar = string | number | boolean | null | undefined
/** As haraka-config hands a value over: integers as numbers, `key[]=` lines as lists. */
export type IniValue = IniScalar | readonly IniScalar[]
export type IniSections = Record<string, Record<string, IniValue> | undefined>

export type TableValues<T extends Record<string, Section>> = { [S in keyof T]: SectionValues<T[S]> }

export interface ReadResult<V> {
  values: V
  /** One line per problem, starting `[section] key:` (or `[section]:`). */
  errors: string[]
  /** `section.key` of every option the ini sets to a usable value. */
  given: ReadonlySet<string>
  /** `section.key` of every option whose value could not be read. */
  invalid: ReadonlySet<string>
}

/** Empty values (`key=`) and keys without `=` leave the option unset. */
function isSet(value: IniValue): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '')
}

function shown(value: IniValue): string {
  return Array.isArray(value) ? 'a list (key[]=)' : JSON.stringify(value)
}

function fallback(option: Option<unknown, unknown>): string {
  if (option.whenInvalid !== undefined) return option.whenInvalid
  if (option.defaultText !== undefined) return `using ${option.defaultText.replace(/`/g, '')}`
  return option.default === null ? 'left unset' : `using ${option.kind.format(option.default)}`
}

function keysOf(section: Section): string[] {
  return Object.entries(section.options).flatMap(([field, o]) => [iniKey(field, o), ...(o.aliases ?? [])])
}

function readSection(
  name: string,
  section: Section,
  raw: Record<string, IniValue>,
  result: { errors: string[]; given: Set<string>; invalid: Set<string> },
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [field, option] of Object.entries(section.options)) {
    const key = iniKey(field, option)
    const found = [key, ...(option.aliases ?? [])].find((k) => Object.hasOwn(raw, k) && isSet(raw[k]))
    // A copy: a caller changing its config (an endpoint, a list) must not change the table.
    out[field] = structuredClone(option.default)
    if (found === undefined) continue
    const value = raw[found]
    const parsed = Array.isArray(value) ? undefined : option.kind.parse(String(value).trim())
    if (parsed === undefined) {
      result.invalid.add(`${name}.${key}`)
      result.errors.push(
        `[${name}] ${found}: must be ${option.kind.expected}, got ${shown(value)}; ${fallback(option)}`,
      )
    } else {
      result.given.add(`${name}.${key}`)
      out[field] = parsed
      const skipped = option.kind.entries?.unreadable(String(value).trim()) ?? []
      if (skipped.length > 0) {
        result.errors.push(
          `[${name}] ${found}: ignored ${skipped.map((s) => JSON.stringify(s)).join(', ')}: ` +
            `each entry must be ${option.kind.entries?.expected}; the others apply`,
        )
      }
    }
  }
  return out
}

/** "did you mean" for an unknown key: a near key of its own section, else the same or a near key of another. */
function hint(table: Record<string, Section>, name: string, key: string): string {
  const here = closest(key, keysOf(table[name] as Section))
  if (here !== undefined) return ` (did you mean ${here}?)`
  const there = Object.entries(table)
    .filter(([other]) => other !== name)
    .map(([other, s]) => ({ other, near: closest(key, keysOf(s)) }))
    .filter((t) => t.near !== undefined)
  const same = there.find((t) => t.near === key.toLowerCase())
  if (same !== undefined) return ` (it belongs in [${same.other}])`
  return there[0] === undefined ? '' : ` (did you mean [${there[0].other}] ${there[0].near}?)`
}

/** Typed values for every option of `table`, with a line for each thing in `ini` that could not be used. */
export function readOptions<T extends Record<string, Section>>(
  table: T,
  ini: IniSections,
): ReadResult<TableValues<T>> {
  const result = { errors: [] as string[], given: new Set<string>(), invalid: new Set<string>() }
  const values: Record<string, Record<string, unknown>> = {}
  for (const [name, section] of Object.entries(table)) {
    values[name] = readSection(name, section, ini[name] ?? {}, result)
  }
  for (const [name, raw] of Object.entries(ini)) {
    if (!Object.hasOwn(table, name)) {
      const like = closest(name, Object.keys(table))
      result.errors.push(
        `[${name}]: unknown section, ignored${like === undefined ? '' : ` (did you mean [${like}]?)`}`,
      )
      continue
    }
    const known = new Set(keysOf(table[name] as Section))
    for (const key of Object.keys(raw ?? {})) {
      if (!known.has(key))
        result.errors.push(`[${name}] ${key}: unknown option, ignored${hint(table, name, key)}`)
    }
  }
  // The one cast: values was built from the table's own rows, field by field.
  return { ...result, values: values as TableValues<T> }
}
