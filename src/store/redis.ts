// The one place that builds ioredis clients: standalone, Sentinel or Cluster, all tuned so that a slow or absent
// Redis fails fast instead of holding up mail.
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { RedisConfig } from '../config/config'

export type RedisClient = Redis | Cluster

/** Reconnect forever, backing off to 5 s: Redis may come back at any time and tracking must resume by itself. */
const retryStrategy = (times: number) => Math.min(times * 200, 5000)

export function createRedisClient(cfg: RedisConfig, connectionName: string): RedisClient {
  const common: RedisOptions = {
    connectionName,
    db: cfg.db,
    username: cfg.username ?? undefined,
    password: cfg.password ?? undefined,
    connectTimeout: cfg.connectTimeout,
    commandTimeout: cfg.commandTimeout,
    // Commands issued while disconnected fail at once rather than waiting in a queue behind a dead socket.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
    // Commands issued in one tick (the reads of a pipelined MTQP batch, the writes of a busy SMTP worker) share
    // one network write.
    enableAutoPipelining: true,
  }
  if (cfg.cluster) {
    const { db: _clusterHasNoDb, ...redisOptions } = common
    return new Cluster(cfg.cluster, {
      redisOptions,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
    })
  }
  if (cfg.sentinels) return new Redis({ ...common, sentinels: cfg.sentinels, name: cfg.sentinelName })
  if (cfg.socket) return new Redis({ ...common, path: cfg.socket })
  return new Redis({ ...common, host: cfg.host, port: cfg.port })
}
