// MTRK-11 end to end: a real Haraka records two tracked messages, one delivered here and one queued for a next hop
// that defers; the operator lowers `[main] max_retention` in the instance's mtrk.ini and runs `mtrk-trace retention`
// as a user would (bin/mtrk-trace.js, its own process). The delivered message's key expires sooner and TRACK stops
// answering for it once its new time has passed; the queued one keeps its time (MTRK-10); a dry run changes nothing.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { type HarakaInstance, REPO, startHaraka } from '../helpers/haraka'
import { destroyMtqpClients, MtqpTestClient } from '../helpers/mtqp'
import { type Peer, startPeer } from '../helpers/peer'
import { waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'

const SECRET = 'AAECAwQFBgcICQoLDA0ODw==' // TV-1: A = 00..0f
const CERTIFIER = 'VheLhqV/rCKJmplkGFwsyW59pYk'
const BIN = join(REPO, 'bin', 'mtrk-trace.js')
const DOMAIN = `r${process.pid}.sender.test`
const DAY_MS = 86_400_000
const run = promisify(execFile)

let haraka: HarakaInstance
let peer: Peer
let redis: Redis

interface Ran {
  code: number
  stdout: string
  stderr: string
}

async function mtrkTrace(...args: string[]): Promise<Ran> {
  try {
    const r = await run(process.execPath, [BIN, '-c', haraka.dir, ...args])
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string }
    return { code: x.code, stdout: x.stdout, stderr: x.stderr }
  }
}

async function send(envid: string, timeout: number, ...to: string[]): Promise<void> {
  const { client } = await SmtpClient.connect(haraka.smtpPort)
  try {
    await client.cmd('EHLO client.retention.test')
    const mail = await client.cmd(`MAIL FROM:<alice@${DOMAIN}> ENVID=${envid} MTRK=${CERTIFIER}:${timeout}`)
    assert.equal(mail.code, 250, mail.text)
    for (const rcpt of to) assert.equal((await client.cmd(`RCPT TO:<${rcpt}>`)).code, 250)
    assert.equal((await client.data(`Subject: retention\n\nbody\n`)).code, 250)
  } finally {
    client.close()
  }
}

/** The TRACK answer's indicator and, when it is an error, its codes. */
async function track(envid: string): Promise<string> {
  return (await trackAnswer(envid)).indicator
}

/** The TRACK answer: its indicator (with its codes when an error) and its data lines. */
async function trackAnswer(envid: string): Promise<{ indicator: string; lines: string[] }> {
  const c = await MtqpTestClient.connect(haraka.mtqpPort)
  await c.next()
  c.send(`TRACK ${envid} ${SECRET}\r\n`)
  const r = await c.next()
  return {
    indicator: r.indicator === '-ERR' ? `-ERR ${r.codes.join(',')}` : r.indicator,
    lines: r.lines ?? [],
  }
}

const DELIVERED = `delivered@${DOMAIN}`
const QUEUED = `queued@${DOMAIN}`
const key = (envid: string) => `${haraka.prefix}envid:${envid}`

/** The record stored for an envid: its retention (s) and its recipient's action and keep time. */
async function stored(
  envid: string,
): Promise<{ retention: number; action: string; keepUntil: number; lastAttempt: number | null }> {
  const [json] = Object.values(await redis.hgetall(key(envid)))
  const v = JSON.parse(json as string) as [number, ...unknown[]]
  const r = (v[8] as unknown[][])[0] as unknown[]
  return {
    retention: v[6] as number,
    action: r[4] as string,
    keepUntil: r[9] as number,
    lastAttempt: r[7] as number | null,
  }
}

before(async () => {
  const redisPort = await sharedRedisPort()
  redis = new Redis({ port: redisPort, host: '127.0.0.1' })
  peer = await startPeer([{ name: 'plain', ehlo: ['ENHANCEDSTATUSCODES'] }])
  haraka = await startHaraka({
    redisPort,
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    mtrk: { main: { max_retention: 30 * 86400 } },
    files: {
      'test_mx.json': JSON.stringify({
        'plain.relay.test': { port: peer.ports.plain, name: 'mx.plain.test' },
      }),
      'outbound.ini': 'local_mx_ok=true\n',
    },
  })
  await haraka.waitForLog(/MTQP listening on/)
  await send(DELIVERED, 2 * 86400, 'bob@local.test')
  await send(QUEUED, 2 * 86400, 'defer-x@plain.relay.test')
  await waitFor(
    async () => (await stored(DELIVERED).catch(() => null))?.action === 'delivered',
    15000,
    'delivered recorded',
  )
  // The next hop has answered 451: queued, its keep time past the give-up time. Waited for in Redis, not in the log:
  // the write leaves after the log line (a CI run read the key before it was there).
  await waitFor(() => /451/.test(haraka.logs()), 15000, 'the deferral')
  await waitFor(
    async () => ((await stored(QUEUED).catch(() => null))?.lastAttempt ?? null) !== null,
    15000,
    'the deferral recorded',
  )
})

after(async () => {
  destroyMtqpClients()
  redis?.disconnect()
  await haraka?.stop()
  await peer?.stop()
})

test('MTRK-11: lower max_retention in mtrk.ini, run mtrk-trace retention: shorter TTLs, queued kept, dry run first', async () => {
  const delivered = await stored(DELIVERED)
  const queued = await stored(QUEUED)
  assert.equal(queued.action, 'delayed')
  const ttls = [await redis.pttl(key(DELIVERED)), await redis.pttl(key(QUEUED))] as const
  assert.ok(ttls[0] > DAY_MS + 3_600_000, `2 days requested: ${ttls[0]}`)

  const ini = join(haraka.dir, 'config', 'mtrk.ini')
  writeFileSync(ini, readFileSync(ini, 'utf8').replace(/max_retention=\d+/, 'max_retention=86400'))

  const dry = await mtrkTrace('retention', '--dry-run', '--json')
  assert.equal(dry.code, 0, dry.stderr)
  assert.deepEqual(JSON.parse(dry.stdout), {
    dryRun: true,
    maxRetention: 86400,
    queuedGrace: 86400,
    keys: 2,
    keysShortened: 1,
    keysRemoved: 0,
    keysSkipped: 0,
    records: 2,
    recordsShortened: 1,
    recipientsQueued: 1,
  })
  assert.deepEqual(await stored(DELIVERED), delivered, 'a dry run changes nothing')
  assert.ok((await redis.pttl(key(DELIVERED))) > ttls[0] - 60_000)

  const done = await mtrkTrace('retention')
  assert.equal(done.code, 0, done.stderr)
  assert.match(done.stdout, /^retention at most 86400 s from arrival/)
  assert.match(done.stdout, /^keys examined +2$/m)
  assert.match(done.stdout, /^keys shortened +1$/m)
  assert.match(done.stdout, /^records now expiring sooner +1$/m)
  assert.match(done.stdout, /^recipients kept longer: still queued \(RFC 3885 3\.1\) +1$/m)

  const cut = await stored(DELIVERED)
  assert.deepEqual(cut.retention, 86400)
  const arrival = delivered.keepUntil - 2 * DAY_MS
  assert.equal(cut.keepUntil, arrival + DAY_MS)
  const ttl = await redis.pttl(key(DELIVERED))
  assert.ok(ttl > 0 && ttl <= arrival + DAY_MS - Date.now() + 1000, `TTL ${ttl}`)
  assert.equal(await track(DELIVERED), '+OK+', 'still within the new maximum')
  assert.deepEqual(
    await stored(QUEUED),
    { ...queued, retention: 86400 },
    'MTRK-10: the queued recipient keeps its time',
  )
  assert.ok((await redis.pttl(key(QUEUED))) > ttls[1] - 60_000)

  // Down to nothing: what is no longer queued goes, TRACK no longer knows it; the queued message is still answered.
  const zero = await mtrkTrace('retention', '--max', '0')
  assert.equal(zero.code, 0, zero.stderr)
  assert.match(zero.stdout, /^keys removed \(nothing left to keep\) +1$/m)
  assert.equal(await redis.exists(key(DELIVERED)), 0)
  assert.equal(await track(DELIVERED), '-ERR noinfo')
  assert.equal(await track(QUEUED), '+OK+')
})

/** Every recipient stored for an envid (one record): address, action and keep time; and the arrival. */
async function recipients(envid: string) {
  const [json] = Object.values(await redis.hgetall(key(envid)))
  if (json === undefined) return null
  const v = JSON.parse(json) as unknown[]
  const list = (v[8] as unknown[][]).map((r) => ({
    address: (typeof r[1] === 'string' ? r[1] : r[0]) as string,
    action: r[4] as string,
    lastAttempt: r[7] as number | null,
    keepUntil: r[9] as number,
  }))
  return { arrival: v[3] as number, list }
}

test('MTRK-11: after --max 0, TRACK leaves out a recipient past its keep time, though another is still queued', async () => {
  const mixed = `mixed@${DOMAIN}`
  await send(mixed, 86400, 'defer-q@plain.relay.test', 'direct2@plain.relay.test')
  // The next hop took direct2 and deferred defer-q (451): both recorded before the cut.
  const before = await waitFor(
    async () => {
      const r = await recipients(mixed).catch(() => null)
      const by = new Map(r?.list.map((x) => [x.address, x]))
      const q = by.get('defer-q@plain.relay.test')
      const d = by.get('direct2@plain.relay.test')
      return q?.action === 'delayed' && q.lastAttempt !== null && d !== undefined && d.action !== 'delayed'
        ? r
        : undefined
    },
    15000,
    'one recipient relayed and one deferred',
  )
  assert.ok(before)
  const answered = await trackAnswer(mixed)
  assert.equal(answered.indicator, '+OK+')
  assert.match(answered.lines.join('\n'), /direct2@plain\.relay\.test/, 'both shown before the cut')

  const zero = await mtrkTrace('retention', '--max', '0')
  assert.equal(zero.code, 0, zero.stderr)
  const after = await recipients(mixed)
  const direct2 = after?.list.find((x) => x.address === 'direct2@plain.relay.test')
  assert.equal(direct2?.keepUntil, after?.arrival, 'kept until arrival + 0')
  const cut = await trackAnswer(mixed)
  assert.equal(cut.indicator, '+OK+', 'MTRK-10: still queued, so still known')
  const body = cut.lines.join('\n')
  assert.match(body, /Final-Recipient: rfc822; ?defer-q@plain\.relay\.test/i)
  assert.doesNotMatch(body, /direct2@plain\.relay\.test/, 'past its keep time: not shown')
})

test('MTRK-11: a bad --max is named, an unreachable Redis explained with exit 69, never a stack trace', async () => {
  const bad = await mtrkTrace('retention', '--max', 'two days')
  assert.equal(bad.code, 64)
  assert.match(bad.stderr, /^mtrk-trace: --max: "two days" is not a duration/)
  const bare = await mtrkTrace('retention', '--max', '2')
  assert.equal(bare.code, 64, 'a bare number would be 2 seconds')
  assert.match(bare.stderr, /^mtrk-trace: --max: "2" needs a unit: 2d, 2h, 2m or 2s/)
  const padded = await mtrkTrace('retention', '--max', ' 2 ')
  assert.equal(padded.code, 64, 'nor with spaces around it')
  const down = await run(process.execPath, [BIN, 'retention'], {
    env: { ...process.env, MTRK_REDIS_URL: 'redis://127.0.0.1:1' },
    cwd: haraka.dir,
  }).then(
    (r): Ran => ({ code: 0, ...r }),
    (e: Ran) => e,
  )
  assert.equal(down.code, 69)
  assert.match(down.stderr, /Redis at 127\.0\.0\.1:1 is unreachable/)
  assert.doesNotMatch(down.stderr, /\n +at /)
  const help = await mtrkTrace('--help')
  assert.match(help.stdout, /mtrk-trace retention \[--max DURATION\] \[--dry-run\] \[--json\]/)
})
