// The citation check of issue 8: every requirement id cited in code, tests and manuals is defined under docs/,
// every file docs/ names exists (and every test name it quotes is in that file), and nothing points at a document
// outside the repository. The parsers are pure (text in, findings out); checkRepository reads the tree.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, extname, join } from 'node:path'

export interface Finding {
  /** Repository-relative path, or a label for synthetic input. */
  file: string
  /** 1-based line number. */
  line: number
  message: string
}

/**
 * An id is an upper-case family (which may carry number segments, as the ERR family does) and a number: MTRK-3,
 * ERR-3887-5. A range `MTRK-12..17` and a list `TSN-13/14/15` cite every id they name.
 */
const CITATION = /\b([A-Z][\dA-Z]*(?:-[\dA-Z]+)*)-(\d+)((?:\.\.\d+|\/\d+)*)(?![\w-])/g

/** Names that look like ids but are not: SHA-1, UTF-8, ISO-8859-1, RFC-6531, CVE-2024-1. */
const NOT_IDS = new Set(['SHA', 'UTF', 'ISO', 'RFC', 'CVE'])

/** The ids a text cites, one entry per id per line, ranges and lists expanded. */
export function citedIds(text: string): { id: string; line: number }[] {
  const found: { id: string; line: number }[] = []
  text.split('\n').forEach((content, i) => {
    for (const m of content.matchAll(CITATION)) {
      const family = m[1] ?? ''
      if (NOT_IDS.has(family.split('-')[0] ?? '')) continue
      const first = Number(m[2])
      const numbers = new Set([first])
      for (const more of (m[3] ?? '').matchAll(/(\.\.|\/)(\d+)/g)) {
        const n = Number(more[2])
        if (more[1] === '/') numbers.add(n)
        else for (let k = first; k <= n; k++) numbers.add(k)
      }
      for (const n of numbers) found.push({ id: `${family}-${n}`, line: i + 1 })
    }
  })
  return found
}

/** A definition is a list item that starts with the id in bold: `- **MTRK-3** ...`. */
const DEFINITION = /^\s*[-*] \*\*([A-Z][\dA-Z]*(?:-[\dA-Z]+)*-\d+)\*\*/

/** The ids a docs page defines, in order, with their lines (duplicates kept, so they can be reported). */
export function definedIds(markdown: string): { id: string; line: number }[] {
  const found: { id: string; line: number }[] = []
  markdown.split('\n').forEach((content, i) => {
    const id = DEFINITION.exec(content)?.[1]
    if (id) found.push({ id, line: i + 1 })
  })
  return found
}

/** A repository path in backquotes: a top-level folder or file of this repository. */
const PATH_IN_DOC = /`((?:src|test|bench|scripts|plugins|bin|config|docs)\/[\w./-]+|[A-Z]+\.md)`/g

/** A test name quoted after its file: “name”. */
const TEST_NAME = /“([^”]+)”/g

/** The repository paths a docs page names, each with the test names quoted after it on the same line. */
export function namedPaths(markdown: string): { path: string; names: string[]; line: number }[] {
  const found: { path: string; names: string[]; line: number }[] = []
  markdown.split('\n').forEach((content, i) => {
    const paths = [...content.matchAll(PATH_IN_DOC)]
    paths.forEach((m, k) => {
      const end = paths[k + 1]?.index ?? content.length
      const tail = content.slice((m.index ?? 0) + m[0].length, end)
      const names = [...tail.matchAll(TEST_NAME)].map((n) => n[1] ?? '')
      found.push({ path: m[1] ?? '', names, line: i + 1 })
    })
  })
  return found
}

/** Pointers that leave the repository: the shared folder of a checkout, absolute work paths, spec sections. */
const OUTSIDE = [/\.\.\/shared\//, /\/work\//, /\brequirements(?:\.md)? ?§/i, /\bspec\/\w[\w-]*\.md\b/]

/** A Markdown file named in a text (`docs/conformance.md`), not a property chain such as `forge.md.sha256`. */
const MARKDOWN_NAME = /\b[\w./-]*\.md(?!\.?\w)/g

/**
 * Lines of a text that cite a document outside the repository, each with its first such pointer: one of OUTSIDE,
 * or a Markdown file whose name is not one of the repository's own (`markdownInRepo`, base names).
 */
export function outsideCitations(
  text: string,
  markdownInRepo: ReadonlySet<string>,
): { line: number; cited: string }[] {
  const found: { line: number; cited: string }[] = []
  text.split('\n').forEach((content, i) => {
    const pointer =
      OUTSIDE.map((re) => re.exec(content)?.[0]).find((m) => m !== undefined) ??
      [...content.matchAll(MARKDOWN_NAME)].map((m) => m[0]).find((m) => !markdownInRepo.has(basename(m)))
    if (pointer !== undefined) found.push({ line: i + 1, cited: pointer })
  })
  return found
}

/** Where ids and outside pointers are looked for: everything a reader of the code or the manuals sees. */
export const CITING = [
  'src',
  'test',
  'bench',
  'scripts',
  'plugins',
  'bin',
  'docs',
  'README.md',
  'DEVELOPERS.md',
  'CHANGELOG.md',
]

const TEXT_FILES = new Set(['.ts', '.js', '.mjs', '.cjs', '.py', '.sh', '.md', '.ini'])
const NOT_SOURCE = new Set(['node_modules', 'dist'])

function filesUnder(root: string, path: string): string[] {
  const full = join(root, path)
  if (!existsSync(full)) return []
  if (!statSync(full).isDirectory()) return TEXT_FILES.has(extname(path)) ? [path] : []
  return readdirSync(full)
    .filter((name) => !NOT_SOURCE.has(name) && !name.startsWith('.'))
    .flatMap((name) => filesUnder(root, join(path, name)))
}

/** Every problem of the repository at `root`: undefined ids, missing files and test names, outside pointers. */
export function checkRepository(root: string): Finding[] {
  const findings: Finding[] = []
  const docs = filesUnder(root, 'docs').filter((f) => f.endsWith('.md'))
  const defined = new Map<string, string>()
  for (const doc of docs) {
    for (const { id, line } of definedIds(readFileSync(join(root, doc), 'utf8'))) {
      const first = defined.get(id)
      if (first) findings.push({ file: doc, line, message: `${id} is defined twice (first in ${first})` })
      else defined.set(id, doc)
    }
  }
  const markdownInRepo = new Set(
    filesUnder(root, '.').flatMap((f) => (f.endsWith('.md') ? [basename(f)] : [])),
  )
  for (const file of CITING.flatMap((p) => filesUnder(root, p))) {
    const text = readFileSync(join(root, file), 'utf8')
    for (const { id, line } of citedIds(text)) {
      if (!defined.has(id))
        findings.push({ file, line, message: `${id} is cited but no page in docs/ defines it` })
    }
    for (const { line, cited } of outsideCitations(text, markdownInRepo)) {
      findings.push({
        file,
        line,
        message: `"${cited}" points outside the repository; cite the RFC or docs/`,
      })
    }
  }
  for (const doc of docs) {
    for (const { path, names, line } of namedPaths(readFileSync(join(root, doc), 'utf8'))) {
      const full = join(root, path)
      if (!existsSync(full)) {
        findings.push({ file: doc, line, message: `${path} does not exist` })
        continue
      }
      const text = statSync(full).isDirectory() ? '' : readFileSync(full, 'utf8')
      for (const name of names) {
        if (!text.includes(name)) findings.push({ file: doc, line, message: `${path} has no test "${name}"` })
      }
    }
  }
  return findings
}
