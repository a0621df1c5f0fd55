// A real redis-server per need: the test runner starts one for the whole run (MTRK_TEST_REDIS_PORT); tests that
// stop or kill Redis start their own.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort, waitFor } from './ports'

export interface RedisServer {
  port: number
  /** Starts it again on the same port after stop(). */
  start(): Promise<void>
  /** Kills it (SIGKILL: no persistence, as after a crash). */
  stop(): Promise<void>
  /** Stops it for good and disconnects the clients made by client(). */
  close(): Promise<void>
  client(): Redis
}

async function ping(port: number): Promise<boolean> {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
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

export async function startRedis(port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-redis-'))
  let proc: ChildProcess | null = null
  const clients: Redis[] = []
  const server: RedisServer = {
    port: p,
    async start() {
      proc = spawn(
        'redis-server',
        ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
        {
          stdio: 'ignore',
        },
      )
      // The exit handler below kills it; it must not keep the test process alive by itself.
      proc.unref()
      await waitFor(() => ping(p), 10000, `redis-server on port ${p}`)
    },
    async stop() {
      const running = proc
      proc = null
      if (!running || running.exitCode !== null) return
      const exited = new Promise((r) => running.once('exit', r))
      running.kill('SIGKILL')
      await exited
    },
    async close() {
      for (const c of clients.splice(0)) c.disconnect()
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    },
    client() {
      const c = new Redis({ port: p, host: '127.0.0.1' })
      c.on('error', () => {})
      clients.push(c)
      return c
    },
  }
  await server.start()
  // A test that fails half-way must not leave a redis-server behind.
  process.once('exit', () => (proc as ChildProcess | null)?.kill('SIGKILL'))
  return server
}

/** The run's shared Redis (started by scripts/run-tests.ts), or a private one when a test file runs alone. */
export async function sharedRedisPort(): Promise<number> {
  const env = process.env.MTRK_TEST_REDIS_PORT
  if (env) return Number(env)
  const own = await startRedis()
  return own.port
}
