// MTQP TRACK through Haraka's listener against the ceiling server (bench/ceiling.ts: Node + ioredis + one HGETALL
// of the same key, fixed answer), both driven by the same independent load generator (bench/load.ts) in the same
// run, alternated: prints rates, p50/p99 and the ratios. redis-benchmark's HGETALL is printed for reference.
//   npm run bench -- mtqp [seconds per run]
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startHaraka } from '../test/helpers/haraka'
import { waitForMtqpReady } from '../test/helpers/mtqp'
import { waitFor } from '../test/helpers/ports'
import { startRedis } from '../test/helpers/redis'
import { phase, ratio } from './bound'
import type { LoadResult } from './load'
import { storeMessage, type TrackedMessage, trackedMessage } from './messages'
import { cpuSeconds } from './proc'
import { profileArgs } from './profile'
import { runBench, spawnBench } from './spawn'

const CLIENTS = 16
const SHAPES = [
  { clients: CLIENTS, depth: 1 },
  { clients: CLIENTS, depth: 16 },
]
const ROUNDS = 2

/** The complete wire answer to one TRACK, as the relay sends it: the ceiling server replays these bytes. */
function captureAnswer(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let raw = ''
    socket.on('error', reject)
    socket.once('data', () => {
      socket.write(`${line}\r\n`)
      socket.on('data', (d: Buffer) => {
        raw += d.toString('latin1')
        if (raw.endsWith('\r\n.\r\n') || /^-/.test(raw)) {
          socket.destroy()
          resolve(raw)
        }
      })
    })
  })
}

type Measured = LoadResult & { cpuUs: number }

/** One load run against `port`, with the CPU the server process `pid` spent per answer, in µs. */
async function load(
  pid: number | undefined,
  port: number,
  clients: number,
  depth: number,
  seconds: number,
  line: string,
): Promise<Measured> {
  const before = cpuSeconds(pid)
  const r = JSON.parse(await runBench('load', [port, clients, depth, seconds, line])) as LoadResult
  return { ...r, cpuUs: ((cpuSeconds(pid) - before) / r.total) * 1e6 }
}

const fmt = (r: Measured) =>
  `${r.rate.toFixed(0).padStart(6)}/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  CPU ${r.cpuUs.toFixed(0).padStart(3)} µs${r.failures ? `  (${r.failures} failed)` : ''}`

/** The TRACK line that opens `m`. */
export const trackLine = (m: TrackedMessage) => `TRACK ${m.header.envidXtext} ${m.secret}`

export async function benchMtqp(seconds = 5): Promise<void> {
  const redis = await startRedis()
  const haraka = await phase('mtqp: start Haraka', 60, () =>
    startHaraka({
      redisPort: redis.port,
      mtrk: { mtqp: { max_connections: 200, max_connections_per_ip: 100 } },
      nodeArgs: profileArgs(),
    }),
  )
  const ceilingPort = 20000 + Math.floor(Math.random() * 20000)
  let ceiling: ReturnType<typeof spawnBench> | null = null
  try {
    const m = trackedMessage(2)
    const key = await storeMessage(redis.port, haraka.prefix, m)
    const line = trackLine(m)
    await waitForMtqpReady(haraka.mtqpPort)
    const answer = await captureAnswer(haraka.mtqpPort, line)
    if (!answer.startsWith('+OK+')) throw new Error(`TRACK not answered: ${answer}`)
    const answerFile = join(tmpdir(), `mtrk-bench-answer-${process.pid}`)
    writeFileSync(answerFile, answer, 'latin1')
    ceiling = spawnBench('ceiling', [ceilingPort, redis.port, key, answerFile])
    const started = ceiling
    await phase('mtqp: start the ceiling server', 30, () =>
      waitFor(() => started.out().includes('ready'), 20000, 'ceiling server'),
    )
    console.log(
      `MTQP TRACK of one message with 2 recipients (${answer.length}-octet answer), ${seconds} s per run, ${ROUNDS} rounds alternated`,
    )
    for (const { clients, depth } of SHAPES) {
      const runs: { relay: Measured; ceiling: Measured }[] = []
      for (let round = 0; round < ROUNDS; round++) {
        const bound = seconds * 2 + 30
        const relay = await phase(`mtqp: TRACK ${clients}x${depth} round ${round + 1}`, bound, () =>
          load(haraka.pid(), haraka.mtqpPort, clients, depth, seconds, line),
        )
        const top = await phase(`mtqp: ceiling ${clients}x${depth} round ${round + 1}`, bound, () =>
          load(started.pid, ceilingPort, clients, depth, seconds, line),
        )
        runs.push({ relay, ceiling: top })
      }
      const hgetall = await phase('mtqp: redis-benchmark', 60, async () =>
        redisBenchmark(redis.port, key, clients, depth),
      )
      console.log(
        `  ${clients} clients, ${depth === 1 ? 'one command in flight each' : `pipelined by ${depth}`}:`,
      )
      runs.forEach(({ relay, ceiling: top }, i) => {
        console.log(`    round ${i + 1}  ceiling ${fmt(top)}`)
        console.log(`             TRACK   ${fmt(relay)}   rate ratio ${ratio(relay.rate, top.rate)}`)
      })
      const sum = (f: (r: (typeof runs)[number]) => number) => runs.reduce((s, r) => s + f(r), 0)
      console.log(
        `    TRACK/ceiling rate ${ratio(
          sum((r) => r.relay.rate),
          sum((r) => r.ceiling.rate),
        )}, CPU per answer ${ratio(
          sum((r) => r.relay.cpuUs),
          sum((r) => r.ceiling.cpuUs),
        )}; redis-benchmark HGETALL ${hgetall.toFixed(0)}/s`,
      )
    }
  } finally {
    ceiling?.kill('SIGKILL')
    await haraka.stop()
    await redis.close()
  }
}

function redisBenchmark(port: number, key: string, clients: number, depth: number): number {
  const csv = execFileSync('redis-benchmark', [
    ...['-p', String(port), '-n', '100000', '-c', String(clients), '-P', String(depth), '--csv'],
    ...['HGETALL', key],
  ]).toString()
  return Number(/"([\d.]+)"/.exec(csv.split('\n').find((l) => l.startsWith('"HGETALL')) ?? '')?.[1])
}
