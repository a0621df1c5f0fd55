// An independent MTQP load generator, run as its own process so it shares no event loop with the server under test:
// N connections, each keeping K commands in flight (K=1: one at a time; K>1: pipelined), for a fixed time after a
// warm-up. Prints one JSON line: answers per second, p50 and p99 latency in ms (send of a command to the end of its
// answer), and the count of answers that were not +OK+.
//   node --import tsx bench/load.ts <port> <clients> <depth> <seconds> <command line>
import { connect } from 'node:net'

export interface LoadResult {
  rate: number
  p50: number
  p99: number
  answers: number
  /** Answers including the warm-up, for CPU per answer. */
  total: number
  failures: number
}

/** Counts complete MTQP responses in a byte stream: a +OK+ response runs to its "." line (RFC 3887 §2.3). */
class AnswerCounter {
  #rest = ''
  #inData = false
  #ok = false
  /** Calls `answer(ok)` for every response completed by `chunk`. */
  push(chunk: Buffer, answer: (ok: boolean) => void): void {
    const text = this.#rest + chunk.toString('latin1')
    let start = 0
    for (let end = text.indexOf('\r\n'); end >= 0; end = text.indexOf('\r\n', start)) {
      const line = text.slice(start, end)
      start = end + 2
      if (this.#inData) {
        if (line === '.') {
          this.#inData = false
          answer(this.#ok)
        }
      } else if (line.startsWith('+OK+')) {
        this.#inData = true
        this.#ok = true
      } else answer(false)
    }
    this.#rest = text.slice(start)
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

export function runLoad(
  port: number,
  clients: number,
  depth: number,
  seconds: number,
  line: string,
): Promise<LoadResult> {
  const command = `${line}\r\n`
  const warmupMs = Math.min(2000, seconds * 250)
  let latencies = new Float64Array(1 << 16)
  let n = 0
  let total = 0
  let failures = 0
  let measuring = false
  let stopping = false
  const sockets: ReturnType<typeof connect>[] = []
  return new Promise((resolve, reject) => {
    let startedAt = 0
    for (let c = 0; c < clients; c++) {
      const socket = connect({ port, host: '127.0.0.1', noDelay: true })
      sockets.push(socket)
      const counter = new AnswerCounter()
      const sent: number[] = []
      let greeted = false
      socket.on('error', reject)
      const send = () => {
        sent.push(performance.now())
        socket.write(command)
      }
      socket.on('data', (d) =>
        counter.push(d, (ok) => {
          if (!greeted) {
            greeted = true
            for (let i = 0; i < depth; i++) send()
            return
          }
          total++
          const at = performance.now()
          const began = sent.shift() ?? at
          if (measuring) {
            if (n === latencies.length) {
              const bigger = new Float64Array(n * 2)
              bigger.set(latencies)
              latencies = bigger
            }
            latencies[n++] = at - began
            if (!ok) failures++
          }
          if (!stopping) send()
        }),
      )
    }
    setTimeout(() => {
      measuring = true
      startedAt = performance.now()
      setTimeout(() => {
        stopping = true
        measuring = false
        const elapsed = (performance.now() - startedAt) / 1000
        for (const s of sockets) s.destroy()
        const sorted = latencies.subarray(0, n).sort()
        resolve({
          rate: n / elapsed,
          p50: percentile(sorted, 0.5),
          p99: percentile(sorted, 0.99),
          answers: n,
          total,
          failures,
        })
      }, seconds * 1000)
    }, warmupMs)
  })
}

if (require.main === module) {
  const [port, clients, depth, seconds, ...line] = process.argv.slice(2)
  runLoad(Number(port), Number(clients), Number(depth), Number(seconds), line.join(' ')).then(
    (r) => {
      console.log(JSON.stringify(r))
      process.exit(0)
    },
    (e: unknown) => {
      console.error(String(e))
      process.exit(1)
    },
  )
}
