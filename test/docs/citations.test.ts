// Citations a newcomer can follow (issue 8): the repository check, and the checker itself on synthetic input so
// it is seen to fail. Ids and outside pointers in the synthetic input are assembled at run time, so this file's own
// text cites nothing the repository check would report.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { checkRepository, citedIds, definedIds, namedPaths, outsideCitations } from './citations'

const root = join(__dirname, '..', '..')

/** An id spelled at run time: `id('MTRK', 3)` is MTRK-3. */
const id = (family: string, n: number) => `${family}-${n}`
/** A Markdown name spelled at run time. */
const md = (name: string) => `${name}.md`

test('the repository: every cited id is defined in docs/, every file and test docs/ names exists, nothing points outside', () => {
  const findings = checkRepository(root)
  assert.deepEqual(
    findings.map((f) => `${f.file}:${f.line}: ${f.message}`),
    [],
    'fix the citation, or define the id in docs/conformance.md (RFC requirements) or docs/haraka-internals.md',
  )
})

test('citedIds: single ids, ranges and lists expanded, ids with number segments; look-alikes are not ids', () => {
  const text = [
    `// ${id('MTRK', 12)}..14 and ${id('TSN', 13)}/15, then ${id('MTQP', 5)}/${id('MTQP', 6)}`,
    `// ${id(id('ERR', 3887), 5)}; ${id(id('ERR', 3887), 0)}x is not one; ${id(id('ERR', 3887), 1)}-* neither`,
    `// ${id('SHA', 1)}, ${id('UTF', 8)}, ${id('ISO-8859', 1)}, ${id('RFC', 6531)}, lower-case ${id('mtrk', 1)}`,
  ].join('\n')
  assert.deepEqual(citedIds(text), [
    { id: id('MTRK', 12), line: 1 },
    { id: id('MTRK', 13), line: 1 },
    { id: id('MTRK', 14), line: 1 },
    { id: id('TSN', 13), line: 1 },
    { id: id('TSN', 15), line: 1 },
    { id: id('MTQP', 5), line: 1 },
    { id: id('MTQP', 6), line: 1 },
    { id: id(id('ERR', 3887), 5), line: 2 },
  ])
})

test('definedIds: only list items that start with the id in bold define it', () => {
  const page = [
    `- **${id('MTRK', 3)}** (RFC 3885 §3.1; MUST): one MTRK parameter`,
    `  - **${id('HRK', 2)}** nested items count too`,
    `Text that mentions **${id('MTRK', 4)}** in bold does not define it.`,
    `- ${id('MTRK', 5)} without bold does not either`,
  ].join('\n')
  assert.deepEqual(definedIds(page), [
    { id: id('MTRK', 3), line: 1 },
    { id: id('HRK', 2), line: 2 },
  ])
})

test('namedPaths: backquoted repository paths, with the test names quoted after each', () => {
  const page =
    '  - tests: `test/a.test.ts` “one”; “two”; `test/b.test.ts`; `src/x.ts` and `node_modules/y.js`'
  assert.deepEqual(namedPaths(page), [
    { path: 'test/a.test.ts', names: ['one', 'two'], line: 1 },
    { path: 'test/b.test.ts', names: [], line: 1 },
    { path: 'src/x.ts', names: [], line: 1 },
  ])
})

test('outsideCitations: shared spec files, work paths, unknown Markdown files; own pages and code are fine', () => {
  const own = new Set(['README.md', 'conformance.md'])
  const text = [
    `// see ${md('haraka')} §3`,
    `// ${['..', 'shared', 'spec', md('requirements')].join('/')}`,
    `// ${'requirements'} §14`,
    `// ${['', 'work', 'x'].join('/')}`,
    '// README.md, docs/conformance.md and RFC 3461 §4.2 are fine; so is forge.md.sha256.create()',
  ].join('\n')
  assert.deepEqual(outsideCitations(text, own), [
    { line: 1, cited: md('haraka') },
    { line: 2, cited: ['..', 'shared', ''].join('/') },
    { line: 3, cited: `${'requirements'} §` },
    { line: 4, cited: ['', 'work', ''].join('/') },
  ])
})

test('checkRepository reports an undefined id, a twice-defined id, a missing file or test, an outside pointer', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'citations-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  write(
    'docs/conformance.md',
    [
      `- **${id('MTRK', 1)}** (RFC 3885 §2; MUST): advertise MTRK`,
      '  - code: `src/a.ts`, `src/gone.ts`',
      '  - tests: `test/a.test.ts` “MTRK advertised”; “a test nobody wrote”',
      `- **${id('MTRK', 1)}** again`,
    ].join('\n'),
  )
  write('src/a.ts', `// ${id('MTRK', 1)}, ${id('MTRK', 2)}\n// as ${md('haraka')} says\n`)
  write('test/a.test.ts', "test('MTRK advertised', () => {})\n")
  assert.deepEqual(
    checkRepository(dir).map((f) => `${f.file}:${f.line}: ${f.message}`),
    [
      `docs/conformance.md:4: ${id('MTRK', 1)} is defined twice (first in docs/conformance.md)`,
      `src/a.ts:1: ${id('MTRK', 2)} is cited but no page in docs/ defines it`,
      `src/a.ts:2: "${md('haraka')}" points outside the repository; cite the RFC or docs/`,
      'docs/conformance.md:2: src/gone.ts does not exist',
      'docs/conformance.md:3: test/a.test.ts has no test "a test nobody wrote"',
    ],
  )
})
