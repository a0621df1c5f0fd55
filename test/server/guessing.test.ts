// The failed-TRACK budget against real attackers: two Haraka relays sharing one redis-server, TRACKs over real TCP
// from many loopback addresses (Linux routes all of 127.0.0.0/8 to lo, so a client socket can bind any of them).
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type MtqpResponse, ResponseDecoder } from '../../src/mtqp/response'
import { type HarakaInstance, ini, startHaraka } from '../helpers/haraka'
import { waitForMtqpReady } from '../helpers/mtqp'
import { sharedRedisPort } from '../helpers/redis'

const PER_CLIENT = 20
/** More addresses than the old in-process table remembered (10,000). */
const CROWD = 10_050

let a: HarakaInstance
let b: HarakaInstance

/** [mtqp] of both relays: no TLS, no noinfo delay (the attack is fast), room for the crowd. */
function mtqpIni(globalLimit: number): Record<string, string | number> {
  return {
    starttls: 'off',
    noinfo_delay: 0,
    max_connections: 1000,
    failed_track_limit: PER_CLIENT,
    failed_track_window: 3600,
    failed_track_global_limit: globalLimit,
  }
}

before(async () => {
  const redisPort = await sharedRedisPort()
  const prefix = `guess${process.pid}:`
  a = await startHaraka({ redisPort, prefix, mtrk: { mtqp: mtqpIni(0) } })
  b = await startHaraka({ redisPort, prefix, mtrk: { mtqp: mtqpIni(0) } })
  await Promise.all([waitForMtqpReady(a.mtqpPort), waitForMtqpReady(b.mtqpPort)])
})

after(async () => {
  await Promise.all([a?.stop(), b?.stop()])
})

/** One connection from `from` (a 127.x.y.z address): the greeting, then the replies to `tracks` pipelined. */
async function session(port: number, from: string, tracks: number): Promise<MtqpResponse[]> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: from })
  socket.on('error', () => {})
  const decoder = new ResponseDecoder()
  const replies: MtqpResponse[] = []
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      for (const r of decoder.push(d)) {
        if (!r.ok) return reject(new Error(r.error))
        replies.push(r.value)
      }
      if (replies.length === tracks + 1) resolve()
    })
    socket.once('close', () => reject(new Error(`closed after ${replies.length} replies from ${from}`)))
  })
  await once(socket, 'connect')
  let lines = ''
  for (let i = 0; i < tracks; i++)
    lines += `TRACK guess${i}-${from}@victim.example YWJjZGVmZ2hpamtsbW5vcA\r\n`
  socket.write(lines)
  try {
    await done
  } finally {
    socket.destroy()
  }
  assert.ok(replies[0]?.indicator.startsWith('+OK'), `${from} greeted: ${JSON.stringify(replies[0])}`)
  return replies.slice(1)
}

const outcome = (r: MtqpResponse) => `${r.indicator}/${r.codes.join('/')}`
const NOINFO = '-ERR/noinfo'
const SPENT = '-TEMP/too-many-failures'

function tally(replies: MtqpResponse[]): Record<string, number> {
  const t: Record<string, number> = {}
  for (const r of replies) t[outcome(r)] = (t[outcome(r)] ?? 0) + 1
  return t
}

/** Runs `jobs` with at most `width` at a time. */
async function pool<T>(jobs: Array<() => Promise<T>>, width: number): Promise<T[]> {
  const out: T[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++
        out[i] = await jobs[i]!()
      }
    }),
  )
  return out
}

test(`eviction attack: one wrong TRACK from each of ${CROWD} other addresses does not refresh an exhausted one`, async () => {
  const victim = '127.1.0.1'
  const first = await session(a.mtqpPort, victim, PER_CLIENT + 1)
  assert.deepEqual(tally(first), { [NOINFO]: PER_CLIENT, [SPENT]: 1 })

  const crowd = Array.from({ length: CROWD }, (_, i) => `127.2.${Math.floor(i / 250)}.${(i % 250) + 1}`)
  // All on the victim's relay: the old in-process table (10,000 addresses) forgot the victim after this.
  const replies = await pool(
    crowd.map((from) => () => session(a.mtqpPort, from, 1)),
    50,
  )
  assert.deepEqual(tally(replies.flat()), { [NOINFO]: CROWD }, 'every one of the crowd got its answer')

  for (const port of [a.mtqpPort, b.mtqpPort]) {
    assert.deepEqual(tally(await session(port, victim, 3)), { [SPENT]: 3 }, 'the victim is still spent')
  }
  assert.deepEqual(tally(await session(a.mtqpPort, '127.1.0.2', 1)), { [NOINFO]: 1 }, 'a new address is not')
})

test('multi-node guesser: one address on two relays, sequential and concurrent, gets the budget once', async () => {
  const sequential: MtqpResponse[] = []
  for (let i = 0; i < PER_CLIENT + 10; i++) {
    sequential.push(...(await session(i % 2 ? b.mtqpPort : a.mtqpPort, '127.3.0.1', 1)))
  }
  assert.deepEqual(tally(sequential), { [NOINFO]: PER_CLIENT, [SPENT]: 10 })

  // Ten connections at once, five on each relay, each with five TRACKs pipelined.
  const concurrent = await Promise.all(
    Array.from({ length: 10 }, (_, i) => session(i % 2 ? b.mtqpPort : a.mtqpPort, '127.3.0.2', 5)),
  )
  assert.deepEqual(tally(concurrent.flat()), { [NOINFO]: PER_CLIENT, [SPENT]: 30 })
})

test('the global ceiling per minute holds across relays and addresses (set by a configuration reload)', async () => {
  const globalLimit = 30
  const redisPort = await sharedRedisPort()
  for (const h of [a, b]) {
    const restarts = h.logs().match(/MTQP listening on/g)?.length ?? 0
    writeFileSync(
      join(h.dir, 'config', 'mtrk.ini'),
      ini({
        redis: { host: '127.0.0.1', port: redisPort, prefix: h.prefix },
        mtqp: { listen: `127.0.0.1:${h.mtqpPort}`, ...mtqpIni(globalLimit) },
      }),
    )
    await h.waitForLog(new RegExp(`(MTQP listening on[^]*){${restarts + 1}}`), 20000)
  }
  await Promise.all([waitForMtqpReady(a.mtqpPort), waitForMtqpReady(b.mtqpPort)])
  // Five addresses, ten TRACKs each (below the per-address budget), over both relays.
  const replies = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      session(i % 2 ? b.mtqpPort : a.mtqpPort, `127.4.0.${(i >> 1) + 1}`, 5),
    ),
  )
  assert.deepEqual(tally(replies.flat()), { [NOINFO]: globalLimit, [SPENT]: 50 - globalLimit })
})
