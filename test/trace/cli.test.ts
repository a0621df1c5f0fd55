// `mtrk-trace` spawned as an operator runs it (node bin/mtrk-trace.js, the built package), for what it decides before
// or instead of searching: options a command does not use, a malformed MTRK_REDIS_URL, a server that is not Redis,
// malformed filters, --version. test/trace/e2e.test.ts searches a real relay's trace.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseConfig } from '../../src/config/config'
import { keptAtMost } from '../../src/trace/index'
import { type Ran, runCommand } from '../helpers/command'
import { REPO } from '../helpers/haraka'
import { startRedis } from '../helpers/redis'

/** A Haraka directory without mtrk.ini: the defaults apply. */
const DIR = mkdtempSync(join(tmpdir(), 'mtrk-trace-cli-'))

const trace = (args: string[], env: Record<string, string> = {}) =>
  runCommand('mtrk-trace', ['-c', DIR, ...args], env)

/** The usage error `mtrk-trace` printed, without the line about the missing mtrk.ini. */
const usage = (r: Ran) => r.stderr.replace(/^mtrk-trace: no mtrk\.ini .*\n/m, '')

test('an option the command does not use is refused by name (exit 64), not ignored', async () => {
  for (const [args, message] of [
    [
      ['summary', '--to', 'carol@plain.test', '--since', '1h'],
      '--to does not apply to summary, which counts all mail',
    ],
    [['summary', '--limit', '5'], '--limit does not apply to summary, which counts all mail'],
    [['show', 'ABC.1', '--csv'], '--csv does not apply to show'],
    [['show', 'ABC.1', '--since', '1h'], '--since does not apply to show'],
    [['--bogus'], 'unknown option --bogus'],
    [['--from'], '--from needs a value'],
  ] as const) {
    const r = await trace([...args])
    assert.equal(r.code, 64, args.join(' '))
    assert.equal(r.stdout, '')
    assert.match(
      usage(r),
      new RegExp(`^mtrk-trace: ${message.replace(/[.*+?()]/g, '\\$&')}.*\\nTry "mtrk-trace --help"\\.\\n$`),
    )
  }
})

test('a malformed MTRK_REDIS_URL stops the command (exit 78) naming the variable; nothing is searched', async () => {
  for (const url of ['garbage', 'redis://127.0.0.1:99999', 'http://127.0.0.1:6379/0']) {
    const r = await trace(['--to', 'carol@plain.test'], { MTRK_REDIS_URL: url })
    assert.equal(r.code, 78, url)
    assert.equal(r.stdout, '')
    assert.equal(
      usage(r),
      `mtrk-trace: cannot read the configuration: MTRK_REDIS_URL must look like redis://host:port/db, got ${url}\n`,
    )
  }
})

test('a server that is not Redis is said to be one (exit 69), not a parser error to report', async () => {
  const http = createServer((_req, res) => res.end('hello'))
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const { port } = http.address() as AddressInfo
  try {
    const r = await trace(['--to', 'carol@plain.test'], { MTRK_REDIS_URL: `redis://127.0.0.1:${port}/0` })
    assert.equal(r.code, 69)
    assert.equal(usage(r), `mtrk-trace: what answers at 127.0.0.1:${port} is not a Redis server\n`)
  } finally {
    http.closeAllConnections()
    http.close()
  }
})

test('malformed filters: a future --since, an empty --message-id, an IP address out of range', async () => {
  for (const [args, message] of [
    [['--since', '2999-12-02'], '--since: 2999-12-02T00:00:00.000Z is in the future'],
    [['summary', '--since', '2999-12-02'], '--since: 2999-12-02T00:00:00.000Z is in the future'],
    [['--since', '2h', '--until', '3h'], '--since: .* is after --until'],
    [['--message-id', ''], '--message-id: empty'],
    [['--ip', '999.1.1.1'], '--ip: "999.1.1.1" is not an IP address'],
  ] as const) {
    const r = await trace([...args])
    assert.equal(r.code, 64, args.join(' '))
    assert.match(usage(r), new RegExp(`^mtrk-trace: ${message}\\nTry`), args.join(' '))
  }
})

test('a range reaching back to 2000 reads only the hours a record can still be in; one before 1970 is refused', async () => {
  const redis = await startRedis()
  try {
    const env = { MTRK_REDIS_URL: `redis://127.0.0.1:${redis.port}` }
    const hours = keptAtMost(parseConfig({}).config) / 3_600_000
    const calls = async (command: string) => {
      const stats = await redis.client().info('commandstats')
      return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    }
    const summary = await trace(['summary', '--since', '2000-01-01', '--json'], env)
    assert.equal(summary.code, 0, summary.stderr)
    assert.deepEqual(JSON.parse(summary.stdout).total, { messages: 0, recipients: {} })
    const hgetall = await calls('hgetall')
    assert.ok(hgetall > 0 && hgetall <= hours + 2, `${hgetall} hours read, ${hours} kept`)
    const search = await trace(['--since', '2000-01-01', '--until', '9999-12-31', '--json'], env)
    assert.equal(search.code, 0, search.stderr)
    const scripts = (await calls('evalsha')) + (await calls('eval'))
    assert.ok(scripts > 0 && scripts <= hours + 4, `${scripts} hours searched, ${hours} kept`)
    for (const [args, message] of [
      [['summary', '--since', '999999999d'], '--since: "999999999d" is before 1970'],
      [['--until', '1969-12-31T23:59Z'], '--until: "1969-12-31T23:59Z" is before 1970'],
    ] as const) {
      const r = await trace([...args], env)
      assert.equal(r.code, 64, args.join(' '))
      assert.equal(usage(r), `mtrk-trace: ${message}\nTry "mtrk-trace --help".\n`)
    }
  } finally {
    await redis.close()
  }
})

test('--version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
  const r = await trace(['--version'])
  assert.equal(r.code, 0)
  assert.equal(r.stdout, `mtrk-trace ${version}\n`)
})
