// MTQP TRACK throughput of the embedded listener against redis-benchmark's HGETALL of the same key on the same Redis
// (the one round trip a TRACK costs), measured in the same run: prints the ratio.
//   npm run bench -- mtqp [requests] [connections]
import { execFileSync } from 'node:child_process'
import { connect } from 'node:net'
import { ResponseDecoder } from '../src/mtqp/response'
import { startHaraka } from '../test/helpers/haraka'
import { waitForMtqpReady } from '../test/helpers/mtqp'
import { startRedis } from '../test/helpers/redis'
import { openStore } from '../test/helpers/store'
import { message, recipient } from '../test/store/fixtures'
import { profileArgs } from './profile'

const SECRET = 'AAECAwQFBgcICQoLDA0ODw' // TV-1: opens the fixture's certifier
const BATCH = 16

/** One connection sending TRACKs in pipelined batches of BATCH; resolves when `count` answers came. */
function trackLoop(port: number, envid: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const decoder = new ResponseDecoder()
    let answered = -1 // the greeting
    let sent = 0
    const sendBatch = () => {
      const n = Math.min(BATCH, count - sent)
      sent += n
      socket.write(`TRACK ${envid} ${SECRET}\r\n`.repeat(n))
    }
    socket.on('error', reject)
    socket.on('data', (d) => {
      for (const r of decoder.push(d)) {
        if (!r.ok || (answered >= 0 && r.value.indicator !== '+OK+')) return reject(new Error('bad answer'))
        answered++
        if (answered === count) {
          socket.end('QUIT\r\n')
          return resolve()
        }
        if (answered === sent) sendBatch()
      }
    })
  })
}

export async function benchMtqp(count = 20000, connections = 8): Promise<void> {
  const redis = await startRedis()
  const haraka = await startHaraka({
    redisPort: redis.port,
    files: { 'log.ini': '[main]\nlevel=warn\n' },
    nodeArgs: profileArgs(),
  })
  try {
    const store = await openStore(redis.port, haraka.prefix)
    const now = Date.now()
    await store.record({
      message: message({ arrival: now }),
      recipients: [
        {
          key: 'u@example.net',
          base: recipient({
            action: 'delivered',
            status: '2.5.0',
            lastAttempt: now,
            keepUntil: now + 86400_000,
          }),
        },
      ],
      now,
    })
    const key = store.key(message().envid)
    await store.close()
    const run = async (n: number) => {
      const started = process.hrtime.bigint()
      const per = Math.floor(n / connections)
      await Promise.all(
        Array.from({ length: connections }, () => trackLoop(haraka.mtqpPort, message().envid, per)),
      )
      return (per * connections) / (Number(process.hrtime.bigint() - started) / 1e9)
    }
    await waitForMtqpReady(haraka.mtqpPort)
    await run(2000) // warm-up
    const track = await run(count)
    const csv = execFileSync('redis-benchmark', [
      '-p',
      String(redis.port),
      '-n',
      String(count),
      '-c',
      String(connections),
      '-P',
      String(BATCH),
      '--csv',
      'HGETALL',
      key,
    ]).toString()
    const hgetall = Number(
      /"([\d.]+)"/.exec(csv.split('\n').find((l) => l.startsWith('"HGETALL')) ?? '')?.[1] ?? Number.NaN,
    )
    console.log(
      `MTQP, ${count} TRACKs over ${connections} connections, pipelined by ${BATCH}, one message, one recipient`,
    )
    console.log(`  TRACK through Haraka's MTQP listener: ${track.toFixed(0)} req/s`)
    console.log(`  redis-benchmark HGETALL of the same key: ${hgetall.toFixed(0)} req/s`)
    console.log(`  ratio TRACK/HGETALL: ${(track / hgetall).toFixed(3)}`)
  } finally {
    await haraka.stop()
    await redis.close()
  }
}
