// Imports in src/ run only downward through the layers of docs/architecture.md, and the MTQP server and client never
// import each other (issue 8). The checker is tested on imports that break each rule, so a pass means something.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { test } from 'node:test'
import { checkLayers, LAYERS, type SourceFile } from './layers'

const root = join(__dirname, '..', '..')

function sources(dir: string): SourceFile[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    if (!/\.[cm]?[jt]s$/.test(name)) return []
    return [{ path: relative(root, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }]
  })
}

test('every import in src/ runs downward and the server and client stay apart', () => {
  const files = sources(join(root, 'src'))
  assert.ok(files.length > 50, 'src/ was read')
  assert.deepEqual(checkLayers(files), [])
})

test('every directory of src/ has a place in the layer table', () => {
  const placed = new Set(LAYERS.flatMap((l) => l.members))
  for (const name of readdirSync(join(root, 'src')))
    assert.ok(placed.has(name.replace(/(\.d)?\.ts$/, '')), `src/${name} is in no layer`)
})

const file = (path: string, text: string): SourceFile => ({ path, text })
const reasons = (...files: SourceFile[]) =>
  checkLayers(files).map((v) => `${v.path} ${v.specifier}: ${v.reason}`)

test('an upward import fails, in every form an import can take', () => {
  for (const text of [
    "import { readNote } from '../plugin/note'",
    "import type { Mtrk } from '../plugin/mtrk'",
    "import { type Mtrk } from '../plugin/mtrk'",
    "export { readNote } from '../plugin/note'",
    "export type { Mtrk } from '../plugin/mtrk'",
    "export * from '../plugin/mtrk'",
    "import '../plugin/mtrk'",
    "const m = await import('../plugin/mtrk')",
    "const m = require('../plugin/mtrk')",
    "import { x } from '../store/../plugin/mtrk'",
    "import { register } from '..'",
  ]) {
    const found = reasons(file('src/relay/outcome.ts', text))
    assert.equal(found.length, 1, text)
    assert.match(found[0] ?? '', /imports upward: L2 model and decisions \(src\/relay\) -> /, text)
  }
})

test('the server and the client importing each other fails, both ways', () => {
  assert.match(
    reasons(file('src/server/chain.ts', "import { followFrom } from '../client/follow'")).join(),
    /server and client are side by side/,
  )
  assert.match(
    reasons(file('src/client/connection.ts', "import type { MtqpLog } from '../server/session'")).join(),
    /client and server are side by side/,
  )
})

test('downward and same-layer imports pass; comments, strings and Haraka module names are not imports', () => {
  assert.deepEqual(
    reasons(
      file(
        'src/plugin/chain.ts',
        "import { followFrom } from '../client/follow'\nimport { x } from '../server/session'",
      ),
      file(
        'src/relay/outcome.ts',
        "import { keepUntil } from '../model/retention'\nimport { y } from './session'",
      ),
      file(
        'src/server/session.ts',
        "// import { z } from '../plugin/mtrk'\nconst s = \"from '../plugin/mtrk'\"",
      ),
      file('src/haraka/tls.ts', "const t = plugin.haraka_require('tls_socket')"),
      file('src/index.ts', "export { register } from './plugin/mtrk'"),
    ),
    [],
  )
})

test('a directory outside the table, an import leaving src/ and Redis outside the store fail', () => {
  assert.match(reasons(file('src/ui/page.ts', '')).join(), /ui is in no layer/)
  assert.match(
    reasons(file('src/relay/x.ts', "import { y } from '../ui/page'")).join(),
    /ui, which is in no layer/,
  )
  assert.match(
    reasons(file('src/relay/x.ts', "import { y } from '../../test/helpers/redis'")).join(),
    /outside src/,
  )
  assert.match(reasons(file('src/server/x.ts', "import { Redis } from 'ioredis'")).join(), /only src\/store/)
  assert.deepEqual(reasons(file('src/store/redis.ts', "import { Redis } from 'ioredis'")), [])
})
