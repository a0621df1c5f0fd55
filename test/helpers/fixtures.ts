// The mtrk plugin under haraka-test-fixtures (hook-level tests, no Haraka process): its Redis points at a closed
// port, so nothing is ever written unless a test replaces the store.
import { join } from 'node:path'
import { after } from 'node:test'
import { type FixturePlugin, makePlugin } from 'haraka-test-fixtures'
import { REPO } from './haraka'

const configDir = join(REPO, 'test', 'fixtures', 'fixtures-config')

/** A fresh plugin, shut down when the test file ends; `register: false` leaves register() to the test. */
export function fixturePlugin(opts: { register?: boolean } = {}): FixturePlugin {
  const p = makePlugin('mtrk', { configDir, ...opts })
  after(() => p.shutdown())
  return p
}
