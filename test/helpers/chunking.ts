// The test pattern of ioredis's RESP decoder: feed the same bytes whole, byte by byte, and split in two at every
// position; a streaming decoder must produce identical results however TCP happens to cut the stream.
import assert from 'node:assert/strict'

export interface Pushable<T> {
  push(chunk: Buffer): T[]
}

/** Feed `chunks` to a fresh decoder and collect everything it returns, plus whatever `finish` adds. */
export function feed<T, D extends Pushable<T>>(make: () => D, chunks: Buffer[], finish?: (d: D) => T[]): T[] {
  const d = make()
  const out: T[] = []
  for (const c of chunks) out.push(...d.push(c))
  if (finish) out.push(...finish(d))
  return out
}

/** The result of feeding `input` whole, after asserting that byte-by-byte and every two-way split agree with it. */
export function feedThreeWays<T, D extends Pushable<T>>(
  make: () => D,
  input: Buffer | string,
  finish?: (d: D) => T[],
): T[] {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input
  const whole = feed(make, [bytes], finish)
  const oneByOne = feed(
    make,
    [...bytes].map((b) => Buffer.from([b])),
    finish,
  )
  assert.deepStrictEqual(oneByOne, whole, 'byte-by-byte feeding differs from whole')
  for (let i = 0; i <= bytes.length; i++) {
    const split = feed(make, [bytes.subarray(0, i), bytes.subarray(i)], finish)
    assert.deepStrictEqual(split, whole, `split at ${i} differs from whole`)
  }
  return whole
}

/** Cut `bytes` at the given (sorted or not) positions. */
export function cutAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b)
  const parts: Buffer[] = []
  let prev = 0
  for (const p of points) {
    parts.push(bytes.subarray(prev, p))
    prev = p
  }
  parts.push(bytes.subarray(prev))
  return parts
}

/**
 * feedThreeWays for consumers that answer asynchronously (an MTQP session waits for its store): `run` feeds the
 * chunks to a fresh consumer and resolves with everything it produced.
 */
export async function feedThreeWaysAsync<T>(
  run: (chunks: Buffer[]) => Promise<T>,
  input: Buffer | string,
): Promise<T> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input
  const whole = await run([bytes])
  const oneByOne = await run([...bytes].map((b) => Buffer.from([b])))
  assert.deepStrictEqual(oneByOne, whole, 'byte-by-byte feeding differs from whole')
  for (let i = 0; i <= bytes.length; i++) {
    const split = await run([bytes.subarray(0, i), bytes.subarray(i)])
    assert.deepStrictEqual(split, whole, `split at ${i} differs from whole`)
  }
  return whole
}
