// Tracked mail at volume over real SMTP, for outage tests and the soak script: many sessions in parallel, every
// message with ENVID and MTRK, the latency of each MAIL and RCPT reply measured on a monotonic clock.
import { performance } from 'node:perf_hooks'
import { SmtpClient } from './smtp'

/** base64 of the SHA-1 hash B of a secret, as MTRK carries it (TV-1). */
export const LOAD_CERTIFIER = 'VheLhqV/rCKJmplkGFwsyW59pYk'

export interface LoadResult {
  /** Envids of the messages accepted (250 after DATA). */
  accepted: string[]
  /** Messages refused at any step. */
  refused: number
  /** ms from sending MAIL (or RCPT) to its reply, one entry per command. */
  latencies: number[]
}

/**
 * Sends `count` messages over `connections` parallel sessions to `port`, message i with envid `envid(i)`, to a
 * local recipient (the test_queue plugin accepts it). `stop` ends the load early when it returns true.
 */
export async function smtpLoad(opts: {
  port: number
  count: number
  connections: number
  envid: (i: number) => string
  rcpt?: (i: number) => string
  stop?: () => boolean
  /** Told of every accepted message as it is accepted. */
  onAccepted?: (envid: string) => void
}): Promise<LoadResult> {
  const result: LoadResult = { accepted: [], refused: 0, latencies: [] }
  let next = 0
  const timed = async (client: SmtpClient, line: string) => {
    const start = performance.now()
    const reply = await client.cmd(line)
    result.latencies.push(performance.now() - start)
    return reply
  }
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      const { client } = await SmtpClient.connect(opts.port)
      try {
        await client.cmd('EHLO load.example')
        for (let i = next++; i < opts.count && !opts.stop?.(); i = next++) {
          const envid = opts.envid(i)
          const mail = await timed(
            client,
            `MAIL FROM:<s@load.example> ENVID=${envid} MTRK=${LOAD_CERTIFIER}:86400`,
          )
          const rcpt = await timed(client, `RCPT TO:<${opts.rcpt?.(i) ?? `u${i % 7}@local.test`}>`)
          const data =
            mail.code === 250 && rcpt.code === 250 ? await client.data(`Subject: ${envid}\n\nx\n`) : null
          if (data?.code === 250) {
            result.accepted.push(envid)
            opts.onAccepted?.(envid)
          } else {
            result.refused++
            await client.cmd('RSET')
          }
        }
      } finally {
        client.close()
      }
    }),
  )
  return result
}

/** The p-th percentile (0-100) of `values`, 0 when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
