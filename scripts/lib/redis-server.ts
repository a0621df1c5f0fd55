// A redis-server child process: used by `npm start` (when no Redis is configured or reachable) and by the tests.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { Redis } from 'ioredis'
import { freePort, waitFor } from './ports'

export async function pingRedis(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  const c = new Redis({
    host,
    port,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  })
  c.on('error', () => {})
  try {
    await c.connect()
    return (await c.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    c.disconnect()
  }
}

export interface RedisProcess {
  port: number
  /** Starts it (again, on the same port). */
  start(): Promise<void>
  /** SIGTERM (saves, when persistence is on) or SIGKILL (as after a crash). */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>
  /** SIGSTOP / SIGCONT: a Redis that keeps its connections but answers nothing (a slow Redis), then resumes. */
  freeze(frozen: boolean): void
}

/**
 * A redis-server on 127.0.0.1, data in `dir`; `persist` keeps the data across restarts (RDB snapshots). `args` go to
 * redis-server as they are (cluster mode, `--sentinel`, ...).
 */
export async function redisServer(opts: {
  dir: string
  port?: number
  persist: boolean
  args?: string[]
  /** A configuration file, given first (Sentinel needs one it can rewrite). */
  conf?: string | undefined
}): Promise<RedisProcess> {
  const port = opts.port ?? (await freePort())
  mkdirSync(opts.dir, { recursive: true })
  let proc: ChildProcess | null = null
  const args = [
    ...(opts.conf ? [opts.conf] : []),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    opts.dir,
  ]
  args.push('--appendonly', 'no')
  args.push('--save', opts.persist ? '60 1' : '', ...(opts.args ?? []))
  // Whatever happens to the parent, its redis-server goes with it.
  process.once('exit', () => proc?.kill('SIGKILL'))
  return {
    port,
    async start() {
      const p = spawn('redis-server', args, { stdio: 'ignore' })
      p.unref()
      proc = p
      await waitFor(
        async () => {
          if (p.exitCode !== null)
            throw new Error(`redis-server exited with ${p.exitCode} (port ${port} in use?)`)
          return pingRedis('127.0.0.1', port)
        },
        10000,
        `redis-server on port ${port}`,
      )
    },
    freeze(frozen) {
      proc?.kill(frozen ? 'SIGSTOP' : 'SIGCONT')
    },
    async stop(signal = 'SIGTERM') {
      const p = proc
      proc = null
      if (!p || p.exitCode !== null) return
      const exited = new Promise((r) => p.once('exit', r))
      // Unreferenced while running; waiting for its exit must keep this process alive.
      p.ref()
      p.kill(signal)
      await exited
    },
  }
}
