// A real redis-server per need: the test runner starts one for the whole run (MTRK_TEST_REDIS_PORT); tests that
// stop or kill Redis start their own.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { redisServer } from '../../scripts/lib/redis-server'

export interface RedisServer {
  port: number
  /** Starts it again on the same port after stop(). */
  start(): Promise<void>
  /** Kills it (SIGKILL, no persistence: as after a crash). */
  stop(): Promise<void>
  /** Makes it answer nothing on open connections (SIGSTOP), or resume (SIGCONT). */
  freeze(frozen: boolean): void
  /** Stops it for good and disconnects the clients made by client(). */
  close(): Promise<void>
  client(): Redis
}

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-redis-'))
  const server = await redisServer({ dir, persist: false })
  await server.start()
  const clients: Redis[] = []
  return {
    port: server.port,
    start: () => server.start(),
    stop: () => server.stop('SIGKILL'),
    freeze: (frozen) => server.freeze(frozen),
    async close() {
      for (const c of clients.splice(0)) c.disconnect()
      await server.stop('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    },
    client() {
      const c = new Redis({ port: server.port, host: '127.0.0.1' })
      c.on('error', () => {})
      clients.push(c)
      return c
    },
  }
}

/** The run's shared Redis (started by scripts/run-tests.ts), or a private one when a test file runs alone. */
export async function sharedRedisPort(): Promise<number> {
  const env = process.env.MTRK_TEST_REDIS_PORT
  if (env) return Number(env)
  return (await startRedis()).port
}
