// Fair slots (MTQP-29): slow clients holding every slot of a real Haraka's MTQP listener do not lock out a normal
// client. The slow ones come from 20 loopback addresses (Linux routes all of 127.0.0.0/8 to lo).
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { after, before, test } from 'node:test'
import { type MtqpResponse, ResponseDecoder } from '../../src/mtqp/response'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { waitForMtqpReady } from '../helpers/mtqp'
import { sleep, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'

const SLOW = 100
const SLOW_ADDRESSES = 20
const IDLE_S = 2
const TRICKLE_MS = 3000

let haraka: HarakaInstance
let running = true
const sockets = new Set<Socket>()
let slowGreeted = 0

before(async () => {
  haraka = await startHaraka({
    redisPort: await sharedRedisPort(),
    mtrk: {
      mtqp: { starttls: 'off', max_connections: SLOW, max_connections_per_ip: 10, slot_idle_timeout: IDLE_S },
    },
  })
  await waitForMtqpReady(haraka.mtqpPort)
})

after(async () => {
  running = false
  for (const s of sockets) s.destroy()
  await haraka?.stop()
})

/** A slow client: after the greeting, one byte of a TRACK every TRICKLE_MS; when closed, it comes back. */
function slowClient(from: string): void {
  if (!running) return
  const socket = connect({ port: haraka.mtqpPort, host: '127.0.0.1', localAddress: from })
  sockets.add(socket)
  const line = 'TRACK slow@example.com YWJjZGVmZ2hpamtsbW5vcA\r\n'
  let sent = 0
  let timer: NodeJS.Timeout | undefined
  socket.on('error', () => {})
  socket.once('data', (d: Buffer) => {
    if (d.toString().startsWith('+OK')) slowGreeted++
    timer = setInterval(() => socket.write(line[sent++ % line.length]!), TRICKLE_MS)
  })
  socket.once('close', () => {
    clearInterval(timer)
    sockets.delete(socket)
    setTimeout(() => slowClient(from), 500)
  })
}

/** A normal client's whole session: greeting, a TRACK, QUIT. */
async function normalSession(): Promise<MtqpResponse[]> {
  const socket = connect({ port: haraka.mtqpPort, host: '127.0.0.1', localAddress: '127.0.0.1' })
  socket.on('error', () => {})
  const decoder = new ResponseDecoder()
  const replies: MtqpResponse[] = []
  socket.on('data', (d: Buffer) => {
    for (const r of decoder.push(d)) if (r.ok) replies.push(r.value)
  })
  const closed = once(socket, 'close')
  await once(socket, 'connect')
  await waitFor(() => replies.length >= 1, 15000, 'greeting')
  if (replies[0]!.indicator.startsWith('+OK')) {
    socket.write('TRACK normal@example.com YWJjZGVmZ2hpamtsbW5vcA\r\nQUIT\r\n')
    await waitFor(() => replies.length >= 3, 15000, 'TRACK and QUIT answered')
  }
  await closed
  return replies
}

test(`${SLOW} slow connections from ${SLOW_ADDRESSES} addresses do not lock out a normal client`, async () => {
  for (let i = 0; i < SLOW; i++) slowClient(`127.5.0.${(i % SLOW_ADDRESSES) + 1}`)
  await waitFor(() => slowGreeted >= SLOW, 30000, 'every slow connection greeted: all slots taken')
  // The slow connections become idle (no complete command) after slot_idle_timeout.
  await sleep(IDLE_S * 1000 + 500)
  for (let round = 0; round < 5; round++) {
    const replies = await normalSession()
    assert.deepEqual(
      replies.map((r) => `${r.indicator}${r.codes.map((c) => `/${c}`).join('')}`),
      ['+OK/mtqp', '-ERR/noinfo', '+OK'],
      `round ${round}: served, not refused`,
    )
    await sleep(1000)
  }
  assert.match(haraka.logs(), /idle connection closed to make room for 127\.0\.0\.1/)
  assert.ok(sockets.size >= SLOW - 10, 'the slow clients kept (re)taking the slots throughout')
})

test('max_connections_per_ip still holds: the 11th connection from one address is refused', async () => {
  const from = '127.6.0.1'
  const greetings = await Promise.all(
    Array.from({ length: 11 }, async () => {
      const s = connect({ port: haraka.mtqpPort, host: '127.0.0.1', localAddress: from })
      sockets.add(s)
      s.on('error', () => {})
      const [d] = (await once(s, 'data')) as [Buffer]
      return d.toString()
    }),
  )
  const refused = greetings.filter((g) => g.includes('too-many-connections'))
  assert.equal(refused.length, 1, greetings.join(''))
  assert.match(refused[0]!, /from your address/)
})
