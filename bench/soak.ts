// Soak: mixed SMTP and MTQP load on a real Haraka with the plugin while Redis is killed, frozen and put to sleep in
// turn, for a configurable time; then Redis stays up and every accepted message's record must turn up. Prints
// messages sent, records found, p99 latencies, TRACK outcomes and the relay's RSS. Not a test: numbers to read.
//   npm run bench -- soak [seconds] [smtp connections]
// Every phase has a time limit; a phase that hangs is named on stderr and the run exits with status 2.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { type RedisProcess, redisServer } from '../scripts/lib/redis-server'
import { ResponseDecoder } from '../src/mtqp/response'
import { type HarakaInstance, startHaraka } from '../test/helpers/haraka'
import { waitForMtqpReady } from '../test/helpers/mtqp'
import { sleep } from '../test/helpers/ports'
import { percentile, smtpLoad } from '../test/helpers/smtp-load'

/** TV-1: the secret whose SHA-1 is the certifier smtpLoad sends (LOAD_CERTIFIER). */
const SECRET = 'AAECAwQFBgcICQoLDA0ODw'
const REDIS_TIMEOUT_MS = 300

/**
 * Runs one phase within `ms`. A phase that takes longer is named on stderr and the process exits with status 2 at
 * once (the helpers' exit handlers kill the Haraka and redis-server it started).
 */
async function phase<T>(name: string, ms: number, fn: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => {
    console.error(`soak: phase "${name}" hung: not done after ${ms / 1000} s`)
    process.exit(2)
  }, ms)
  const started = performance.now()
  try {
    const result = await fn()
    console.log(`soak: ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
    return result
  } finally {
    clearTimeout(timer)
  }
}

function rssMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

/** Kill -9 and restart, SIGSTOP and SIGCONT, DEBUG SLEEP: one fault every `everyMs`, each lasting `faultMs`. */
async function faults(redis: RedisProcess, port: number, until: () => boolean, log: string[]): Promise<void> {
  const kinds = ['kill', 'freeze', 'sleep'] as const
  for (let n = 0; !until(); n++) {
    await sleep(3000)
    if (until()) return
    const kind = kinds[n % kinds.length]!
    const faultMs = 2000 + (n % 4) * 1500
    log.push(`${kind} ${faultMs} ms`)
    if (kind === 'kill') {
      await redis.stop('SIGKILL')
      await sleep(faultMs)
      await redis.start()
    } else if (kind === 'freeze') {
      redis.freeze(true)
      await sleep(faultMs)
      redis.freeze(false)
    } else {
      const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
      c.on('error', () => {})
      await c.call('DEBUG', 'SLEEP', String(faultMs / 1000)).catch(() => {})
      c.disconnect()
    }
  }
}

interface TrackStats {
  latencies: number[]
  outcomes: Record<string, number>
}

/** One MTQP client tracking recently accepted messages, one TRACK at a time, until `until`. */
async function tracker(mtqpPort: number, accepted: string[], until: () => boolean, stats: TrackStats) {
  while (!until()) {
    await new Promise<void>((resolve) => {
      const socket = connect(mtqpPort, '127.0.0.1')
      const decoder = new ResponseDecoder()
      let started = 0
      let greeted = false
      let quitting = false
      const ask = (): void => {
        if (until() || accepted.length === 0) {
          quitting = true
          socket.end('QUIT\r\n')
          return
        }
        const envid = accepted[Math.floor(Math.random() * accepted.length)]
        started = performance.now()
        socket.write(`TRACK ${envid} ${SECRET}\r\n`)
      }
      socket.on('error', () => resolve())
      socket.on('close', () => resolve())
      socket.setTimeout(30_000, () => socket.destroy())
      socket.on('data', (d: Buffer) => {
        for (const r of decoder.push(d)) {
          if (!r.ok) {
            socket.destroy()
            return
          }
          const outcome = `${r.value.indicator}${r.value.codes.map((c) => `/${c}`).join('')}`
          if (!greeted) {
            greeted = true
            if (!r.value.indicator.startsWith('+OK')) {
              stats.outcomes[`greeting ${outcome}`] = (stats.outcomes[`greeting ${outcome}`] ?? 0) + 1
              socket.destroy()
              return
            }
          } else if (!quitting) {
            stats.latencies.push(performance.now() - started)
            stats.outcomes[outcome] = (stats.outcomes[outcome] ?? 0) + 1
            // A client told to call back later waits a little, as a real one would.
            if (outcome.startsWith('-TEMP')) {
              setTimeout(ask, 100)
              continue
            }
          }
          ask()
        }
      })
    })
    await sleep(200)
  }
}

/** The largest value, 0 when none (Math.max(...v) overflows the stack on long runs). */
function largest(values: number[]): number {
  return values.reduce((a, b) => Math.max(a, b), 0)
}

async function countRecords(port: number, prefix: string, envids: string[]): Promise<number> {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 })
  c.on('error', () => {})
  try {
    let found = 0
    for (let i = 0; i < envids.length; i += 5000) {
      const pipe = c.pipeline()
      for (const e of envids.slice(i, i + 5000)) pipe.exists(`${prefix}envid:${e}`)
      for (const [, n] of (await pipe.exec()) ?? []) if (n === 1) found++
    }
    return found
  } finally {
    c.disconnect()
  }
}

export async function soak(seconds = 60, connections = 8): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-soak-'))
  const cleanup: Array<() => Promise<unknown>> = []
  try {
    const { redis, haraka } = await phase('start Redis and Haraka', 60_000, async () => {
      // An append-only file synced on every write: what Redis acknowledged survives kill -9, so a record missing
      // afterwards is the plugin's loss, not Redis's.
      const redis = await redisServer({
        dir,
        persist: false,
        args: ['--enable-debug-command', 'local', '--appendonly', 'yes', '--appendfsync', 'always'],
      })
      await redis.start()
      cleanup.push(() => redis.stop('SIGKILL'))
      const haraka: HarakaInstance = await startHaraka({
        redisPort: redis.port,
        mtrk: {
          redis: { command_timeout: REDIS_TIMEOUT_MS, connect_timeout: REDIS_TIMEOUT_MS },
          // The trackers ask for records still in the journal during faults (noinfo): keep the budget out of it.
          mtqp: { failed_track_limit: 1000000, failed_track_global_limit: 0 },
        },
        files: { 'log.ini': '[main]\nlevel=warn\n' },
      })
      cleanup.push(() => haraka.stop())
      await waitForMtqpReady(haraka.mtqpPort)
      return { redis, haraka }
    })

    const end = performance.now() + seconds * 1000
    const over = () => performance.now() >= end
    const faultLog: string[] = []
    const track: TrackStats = { latencies: [], outcomes: {} }
    const rss: number[] = []
    const load = await phase(`load with Redis faults (${seconds} s)`, seconds * 1000 + 120_000, async () => {
      const sampler = setInterval(() => rss.push(rssMiB(haraka.pid())), 1000)
      try {
        const accepted: string[] = []
        const smtp = smtpLoad({
          port: haraka.smtpPort,
          count: Number.MAX_SAFE_INTEGER,
          connections,
          envid: (i) => `soak${i}@soak.example`,
          stop: over,
          onAccepted: (envid) => accepted.push(envid),
        })
        const trackers = Array.from({ length: 2 }, () => tracker(haraka.mtqpPort, accepted, over, track))
        const [result] = await Promise.all([smtp, faults(redis, redis.port, over, faultLog), ...trackers])
        return result
      } finally {
        clearInterval(sampler)
      }
    })

    const expected = load.accepted
    const found = await phase('Redis up: every record replayed', 180_000, async () => {
      for (let tick = 0; ; tick++) {
        const n = await countRecords(redis.port, haraka.prefix, expected)
        if (n === expected.length) return n
        if (tick % 10 === 9) console.log(`soak: ${n} of ${expected.length} records so far`)
        await sleep(1000)
      }
    })
    const lost = haraka.logs().match(/\d+ tracking writes lost/g) ?? []

    const fmt = (v: number) => v.toFixed(1)
    console.log(`messages sent:        ${expected.length} accepted, ${load.refused} refused`)
    console.log(`records found:        ${found} of ${expected.length}`)
    console.log(
      `SMTP MAIL/RCPT ms:    p50 ${fmt(percentile(load.latencies, 50))}  p99 ${fmt(percentile(load.latencies, 99))}  max ${fmt(largest(load.latencies))}  (Redis timeout ${REDIS_TIMEOUT_MS})`,
    )
    console.log(
      `MTQP TRACK ms:        p50 ${fmt(percentile(track.latencies, 50))}  p99 ${fmt(percentile(track.latencies, 99))}  max ${fmt(largest(track.latencies))}`,
    )
    console.log(`TRACK outcomes:       ${JSON.stringify(track.outcomes)}`)
    console.log(`Haraka RSS MiB:       peak ${fmt(largest(rss))}  last ${fmt(rss.at(-1) ?? 0)}`)
    console.log(`Redis faults:         ${faultLog.join(', ') || 'none'}`)
    console.log(`losses logged:        ${lost.length ? lost.join('; ') : 'none'}`)
  } finally {
    await phase('stop', 30_000, async () => {
      for (const c of cleanup.reverse()) await c().catch(() => {})
    }).catch((e: unknown) => console.error(`soak: ${e instanceof Error ? e.message : e}`))
    rmSync(dir, { recursive: true, force: true })
  }
}

if (require.main === module) {
  const [seconds, connections] = process.argv.slice(2).map(Number)
  soak(seconds || undefined, connections || undefined).then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(`soak: ${e instanceof Error ? e.message : e}`)
      process.exit(1)
    },
  )
}
