// Mail first (issue 4): with Redis unreachable, relaying still forwards the parameters (they live in the queue file),
// a deferred message is kept and retried (the deferred hook still continues), and nothing is delivered twice.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { type Peer, startPeer } from '../helpers/peer'
import { freePort } from '../helpers/ports'
import { pySendmail } from '../helpers/smtp'

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk'
let peer: Peer
let a: HarakaInstance

before(async () => {
  peer = await startPeer([{ name: 'mtrk', ehlo: ['DSN', 'MTRK'] }])
  a = await startHaraka({
    redisPort: await freePort(), // nothing listens there
    mtrk: { redis: { connect_timeout: 100, command_timeout: 100 } },
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    files: {
      'test_mx.json': JSON.stringify({ 'mtrk.relay.test': { port: peer.ports.mtrk, name: 'mx.mtrk.test' } }),
      'outbound.ini': 'temp_fail_intervals=5s\nlocal_mx_ok=true\n',
    },
  })
})
after(async () => {
  await a?.stop()
  await peer?.stop()
})

test('Redis down: parameters forwarded, the deferred recipient retried, every recipient delivered once', async () => {
  const sent = await pySendmail({
    port: a.smtpPort,
    from: 's@sender.example',
    to: ['ok@mtrk.relay.test', 'defer-once@mtrk.relay.test'],
    mail: ['ENVID=down@sender.example', `MTRK=${B}:600`],
  })
  assert.deepEqual(sent, { ok: true, refused: {} })
  const [, retry] = await peer.waitForSessions('mtrk', /^RCPT TO:<defer-once@mtrk\.relay\.test>$/, 2)
  const sessions = peer.sessions('mtrk')
  assert.equal(sessions.length, 2)
  assert.match(
    sessions[0]?.[1] ?? '',
    new RegExp(`ENVID=down@sender.example MTRK=${B.replace('/', '\\/')}:\\d+$`),
  )
  assert.match(retry?.[1] ?? '', / MTRK=/, 'forwarded on retry: the note is in the queue file, not in Redis')
  const rcpts = sessions.flat().filter((l) => l.startsWith('RCPT TO:'))
  assert.deepEqual(rcpts, [
    'RCPT TO:<ok@mtrk.relay.test>',
    'RCPT TO:<defer-once@mtrk.relay.test>',
    'RCPT TO:<defer-once@mtrk.relay.test>',
  ])
  assert.equal(
    sessions.flat().filter((l) => l === 'DATA').length,
    2,
    'one DATA per attempt that had a recipient',
  )
  assert.match(a.logs(), /Redis unavailable/)
})
