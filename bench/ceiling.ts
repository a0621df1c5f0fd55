// The design's ceiling for TRACK: Node, ioredis (auto-pipelined, as the store's client) and one round trip. Per
// TRACK line one HGETALL of the same key, then a fixed multi-line answer, in order; nothing else.
//   node --import tsx bench/ceiling.ts <listen port> <redis port> <key> <file with the answer's wire bytes>
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

const [port, redisPort, key, answerFile] = process.argv.slice(2)
const answer = readFileSync(answerFile!, 'latin1')
const redis = new Redis({ host: '127.0.0.1', port: Number(redisPort), enableAutoPipelining: true })

createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy())
  socket.write('+OK/MTQP ceiling\r\n')
  let rest = ''
  let answered: Promise<unknown> = Promise.resolve()
  socket.on('data', (chunk) => {
    const lines = (rest + chunk.toString('latin1')).split('\r\n')
    rest = lines.pop() ?? ''
    for (const line of lines) {
      if (!line.startsWith('TRACK ')) continue
      const read = redis.hgetall(key!)
      answered = Promise.all([answered, read]).then(() => socket.write(answer, 'latin1'))
    }
  })
}).listen(Number(port), '127.0.0.1', () => console.log('ready'))
