// A failed-TRACK budget kept in this process, for tests of the session and of clients that need a server but no
// Redis. The plugin's budget is src/store/failed-track-budget.ts, tested against a real Redis.
import type { TrackBudget } from '../../src/server/session'

/** At most `limit` failed TRACKs per client, for ever; reservations are taken and given back as Redis would. */
export function memoryBudget(limit = Number.POSITIVE_INFINITY): TrackBudget {
  const spent = new Map<string, number>()
  return {
    async reserve(client) {
      const n = spent.get(client) ?? 0
      if (n >= limit) return false
      spent.set(client, n + 1)
      return true
    },
    release(client) {
      spent.set(client, Math.max(0, (spent.get(client) ?? 0) - 1))
    },
  }
}

/** `inner`, counting the reservations asked for and the releases given (`budget` is what the session gets). */
export function countingBudget(inner: TrackBudget = memoryBudget(20)) {
  const counts = { reserved: 0, released: 0 }
  const budget: TrackBudget = {
    reserve(client) {
      counts.reserved++
      return inner.reserve(client)
    },
    release(client) {
      counts.released++
      inner.release(client)
    },
  }
  return { budget, counts, inner }
}
