// Which test files there are, and which of them need the machine: a file needs it when it, or a test module it
// imports, starts processes (redis-server, Haraka, Python peers, dnsmasq, openssl), talks to Redis or loads Haraka.
// Everything else is a pure test: `npm run test:unit` runs those, without Redis or Debian packages.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { moduleSpecifiers } from './imports'

/** Imports that make a test file need the machine (processes, Redis, Haraka). */
const SYSTEM_MODULES = [
  /^(node:)?child_process$/,
  /^ioredis(\/|$)/,
  /^Haraka(\/|$)/,
  /^haraka-test-fixtures(\/|$)/,
]

/** Every `*.test.ts` under `dir`, sorted, fixtures left out. */
export function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : testFiles(path)
      return name.endsWith('.test.ts') ? [path] : []
    })
    .sort()
}

function resolveLocal(from: string, specifier: string): string | null {
  const base = resolve(dirname(from), specifier)
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts')])
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate
  return null
}

/**
 * The first import that makes `file` need the machine, as `path: specifier`, following its relative imports
 * (src/ modules included: a module that talks to Redis counts); null for a pure test file.
 */
export function systemImport(file: string, seen = new Set<string>()): string | null {
  if (seen.has(file)) return null
  seen.add(file)
  for (const specifier of moduleSpecifiers(readFileSync(file, 'utf8'))) {
    if (SYSTEM_MODULES.some((m) => m.test(specifier))) return `${file}: ${specifier}`
    if (!specifier.startsWith('.')) continue
    const local = resolveLocal(file, specifier)
    const found = local && /\.[cm]?[jt]s$/.test(local) ? systemImport(local, seen) : null
    if (found) return found
  }
  return null
}
