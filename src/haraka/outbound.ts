// What this plugin reads from Haraka's outbound internals. Isolated here so a Haraka upgrade breaks one file.
import type { HarakaPlugin } from './types'

/** Haraka's default schedule when outbound.ini sets nothing: 2^(n+5) s for n = 1..maxTempFailures-1 (13). */
const DEFAULT_INTERVALS = Array.from({ length: 12 }, (_, i) => 2 ** (i + 6))

/**
 * Seconds the outbound queue keeps retrying a message: the sum of its retry intervals. Read from the running
 * Haraka's outbound config so it follows outbound.ini; the default schedule when that module cannot be reached
 * (as under haraka-test-fixtures, whose haraka_require does not resolve outbound modules).
 */
export function queueLifetime(plugin: HarakaPlugin): number {
  let intervals: unknown
  try {
    const obc = plugin.haraka_require('outbound/config') as { cfg?: { temp_fail_intervals?: unknown } }
    intervals = obc.cfg?.temp_fail_intervals
  } catch {
    intervals = undefined
  }
  const list =
    Array.isArray(intervals) && intervals.every((n) => typeof n === 'number') ? intervals : DEFAULT_INTERVALS
  return list.reduce((sum: number, n: number) => sum + n, 0)
}
