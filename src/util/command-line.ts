// What the package's commands (`mtqp`, `mtrk-trace`) share about their command lines: the version they print and
// node:util parseArgs's errors in the commands' own words.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The package's version from its package.json, two directories up from src/util and from dist/util alike. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version?: unknown
  }
  return typeof pkg.version === 'string' ? pkg.version : 'unknown'
}

/**
 * A parseArgs error as a usage message (`unknown option --x`, `--from needs a value`, `--json takes no value`)
 * instead of Node's text, whose advice about positionals reads as a quoting mistake; null for any other error.
 */
export function argsError(e: unknown): string | null {
  if (!(e instanceof TypeError) || !('code' in e) || !String(e.code).startsWith('ERR_PARSE_ARGS')) return null
  const unknown = /^Unknown option '([^']+)'/.exec(e.message)
  if (unknown) return `unknown option ${unknown[1]}`
  const option =
    /^Option '(?:-\w, )?(-[^' ]+)(?: <value>)?' (argument missing|does not take an argument)/.exec(e.message)
  if (option) return `${option[1]} ${option[2] === 'argument missing' ? 'needs a value' : 'takes no value'}`
  return e.message
}
