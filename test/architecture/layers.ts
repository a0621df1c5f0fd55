// The layer table of docs/architecture.md and the check that every import in src/ runs downward. Pure: it is given
// the files' paths and texts, so its own test can feed it imports that break the rules.
import { posix } from 'node:path'
import { moduleSpecifiers } from '../../scripts/lib/imports'

export interface Layer {
  name: string
  /** Top-level entries of src/: a directory, or a file directly in src/ without its extension. */
  members: readonly string[]
  /** Members of the layer must not import each other either (the MTQP server and client). */
  sideBySide?: boolean
}

/** Lowest first. A module imports only from its own layer or a lower one. */
export const LAYERS: readonly Layer[] = [
  { name: 'L0 helpers', members: ['util'] },
  { name: 'L1 wire formats', members: ['esmtp', 'tsn', 'uri', 'mtqp', 'dsn'] },
  { name: 'L2 model and decisions', members: ['model', 'relay', 'config'] },
  { name: 'L3 store', members: ['store'] },
  {
    name: 'L4 MTQP server and client, operator trace',
    members: ['server', 'client', 'trace'],
    sideBySide: true,
  },
  { name: 'L5 Haraka adapter and tracking page', members: ['haraka', 'plugin', 'web'] },
  { name: 'L6 package entry', members: ['index'] },
]

/** Packages only one part of src/ may import. */
export const PACKAGE_OWNERS: Readonly<Record<string, string>> = {
  ioredis: 'store', // the only code that talks to Redis
}

export interface SourceFile {
  /** Relative to the repository, with `/`: `src/relay/outcome.ts`. */
  path: string
  text: string
}

export interface Violation {
  path: string
  specifier: string
  reason: string
}

/** The top-level entry of src/ a path lies in, or null outside src/. */
function memberOf(path: string): string | null {
  const parts = posix.normalize(path).split('/')
  if (parts[0] !== 'src') return null
  if (parts.length === 1) return 'index' // `..` from a directory of src/ is src/index.ts
  // A file directly in src/ is its own member, named without extension (`../index` resolves to `src/index`).
  return parts.length === 2 ? (parts[1] as string).replace(/(\.d)?\.[cm]?[jt]s$/, '') : (parts[1] as string)
}

function layerOf(member: string): number {
  return LAYERS.findIndex((l) => l.members.includes(member))
}

/** Every import of `files` that breaks the layer table, with the reason. */
export function checkLayers(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = []
  for (const file of files) {
    const from = memberOf(file.path)
    const fromLayer = from === null ? -1 : layerOf(from)
    if (from === null || fromLayer < 0) {
      out.push({ path: file.path, specifier: '', reason: `${from ?? file.path} is in no layer of the table` })
      continue
    }
    for (const specifier of moduleSpecifiers(file.text)) {
      const reason = relative(specifier)
        ? checkRelative(posix.join(posix.dirname(file.path), specifier), from, fromLayer)
        : checkPackage(specifier, from)
      if (reason) out.push({ path: file.path, specifier, reason })
    }
  }
  return out
}

const relative = (specifier: string) => /^\.\.?(\/|$)/.test(specifier)

function checkRelative(target: string, from: string, fromLayer: number): string | null {
  const to = memberOf(target)
  if (to === null) return `imports ${target}, outside src/`
  const toLayer = layerOf(to)
  if (toLayer < 0) return `imports ${to}, which is in no layer of the table`
  const layer = LAYERS[fromLayer] as Layer
  if (toLayer > fromLayer)
    return `imports upward: ${layer.name} (src/${from}) -> ${LAYERS[toLayer]?.name} (src/${to})`
  if (toLayer === fromLayer && to !== from && layer.sideBySide)
    return `${from} and ${to} are side by side in ${layer.name} and must not import each other`
  return null
}

function checkPackage(specifier: string, from: string): string | null {
  const name = specifier.startsWith('@')
    ? specifier.split('/').slice(0, 2).join('/')
    : specifier.split('/')[0]
  const owner = name === undefined ? undefined : PACKAGE_OWNERS[name]
  return owner !== undefined && owner !== from ? `only src/${owner} may import ${name}` : null
}
