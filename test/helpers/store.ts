import { parseConfig } from '../../src/config/config'
import type { StoredMessage } from '../../src/model/records'
import { createRedisClient } from '../../src/store/redis'
import { TrackingStore } from '../../src/store/store'
import { waitFor } from './ports'

/** A TrackingStore on the same Redis and prefix as a Haraka instance, to read what it recorded. */
export async function openStore(redisPort: number, prefix: string): Promise<TrackingStore> {
  const { config } = parseConfig({ redis: { port: redisPort, prefix } })
  const log = { info: () => {}, warn: () => {} }
  const store = new TrackingStore(
    createRedisClient(config.redis, 'mtrk-test-reader'),
    { prefix, historyLimit: 20, journal: null },
    log,
  )
  await waitFor(() => store.available, 5000, 'test store ready')
  return store
}

/** Waits until the store holds `count` messages for the envid, each with `rcpts` recipients. */
export function waitForMessages(
  store: TrackingStore,
  envid: string,
  count = 1,
  ms = 10000,
): Promise<StoredMessage[]> {
  return waitFor(
    async () => {
      const found = await store.lookup(envid).catch(() => [])
      return found.length >= count ? found : undefined
    },
    ms,
    `${count} record(s) for ${envid}`,
  )
}
