// A real redis-server per need: the test runner starts one for the whole run (MTRK_TEST_REDIS_PORT); tests that
// stop or kill Redis start their own.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { type RedisProcess, redisServer } from '../../scripts/lib/redis-server'
import { freePort, waitFor } from './ports'

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

export interface RedisCluster {
  /** The masters' ports, every one a seed. */
  ports: number[]
  close(): Promise<void>
}

/** A Redis Cluster of three masters on loopback, each with its share of the 16384 slots, once cluster_state is ok. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dirs: string[] = []
  const nodes: RedisProcess[] = []
  const close = async () => {
    for (const n of nodes) await n.stop('SIGKILL')
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'mtrk-cluster-'))
      dirs.push(dir)
      const args = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000']
      const node = await redisServer({ dir, port: await freePort(), persist: false, args })
      nodes.push(node)
      await node.start()
    }
    const ports = nodes.map((n) => n.port)
    execFileSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdio: 'ignore' },
    )
    await waitFor(
      async () => {
        const c = new Redis({ port: ports[0], lazyConnect: true })
        c.on('error', () => {})
        try {
          await c.connect()
          return /cluster_state:ok/.test(await c.cluster('INFO'))
        } finally {
          c.disconnect()
        }
      },
      20000,
      'cluster_state:ok',
    )
    return { ports, close }
  } catch (e) {
    await close()
    throw e
  }
}

/**
 * A MONITOR connection like `client.monitor()`, without its race: ioredis switches to monitoring mode a microtask
 * after MONITOR's +OK, so a command another client runs at that moment (a shared Redis, other test files) arrives as
 * a reply to nothing and is emitted as "Command queue state error", an uncaught exception without a listener. Such
 * a line predates the caller's own commands; it is dropped, any other error is thrown as usual.
 */
export async function monitorRedis(client: Redis): Promise<Redis> {
  const m = client.duplicate({ monitor: true, lazyConnect: true })
  m.on('error', (e: Error) => {
    if (!/^Command queue state error/.test(e.message)) throw e
  })
  const monitoring = new Promise((resolve) => m.once('monitoring', resolve))
  await m.connect()
  await monitoring
  return m
}
