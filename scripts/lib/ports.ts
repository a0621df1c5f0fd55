import { createServer } from 'node:net'

/**
 * Ports are picked at random below the kernel's ephemeral range (32768-60999 on Linux), where outgoing connections
 * take their local ports: a server that stops and starts again on its port (a Haraka restart in a test) would
 * otherwise find it taken by some client's connection.
 */
const RANGE = { low: 10000, high: 32000 }

/** Whether a listener could bind 127.0.0.1:port right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
  })
}

/**
 * Ports this process has handed out: each is free only until its user binds it, so two picks before either binds
 * (a peer's several listeners) must not return the same one.
 */
const handedOut = new Set<number>()

/** A TCP port that was free a moment ago on 127.0.0.1, outside the ephemeral range, never handed out before here. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = RANGE.low + Math.floor(Math.random() * (RANGE.high - RANGE.low))
    if (handedOut.has(port) || !(await portIsFree(port))) continue
    handedOut.add(port)
    return port
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `check` until it returns a value other than undefined/false, or throws after `ms`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 10000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await sleep(50)
  }
}
