// The operator page while its Redis refuses writes (maxmemory with noeviction) but still answers reads: a real
// Haraka with the page on its own Redis, one message relayed to an aiosmtpd next hop, then the API asked with Redis
// out of memory (it reads: 200) and with Redis stopped (503).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { TracePage } from '../../src/trace/index'
import type { HarakaInstance } from '../helpers/haraka'
import { type Peer, startPeer } from '../helpers/peer'
import { waitFor } from '../helpers/ports'
import { type RedisServer, startRedis } from '../helpers/redis'
import { basic as basicAuth, DOMAIN, sendMessage, startOperatorRelay } from './operator-relay'

const PASSWORD = 'correct horse battery staple'
const basic = (password: string) => basicAuth('operator', password)
const AUTH = { authorization: basic(PASSWORD) }

describe('the operator page while Redis refuses writes or is down', () => {
  let redis: RedisServer
  let h: HarakaInstance
  let peer: Peer
  let base: string
  let txn: string

  before(async () => {
    redis = await startRedis()
    peer = await startPeer([{ name: 'b', ehlo: ['ENHANCEDSTATUSCODES'] }])
    const relay = await startOperatorRelay({ redisPort: redis.port, peer, password: PASSWORD })
    h = relay.h
    base = `${relay.base}api/`
    await sendMessage(h, 'alice@sender.example', `bob@${DOMAIN}`, 'oom@sender.example')
    const page = await waitFor(
      async () => {
        const r = await fetch(`${base}search?toDomain=${DOMAIN}&since=1h`, { headers: AUTH })
        const p = (await r.json()) as TracePage
        return p.messages[0]?.recipients[0]?.action === 'relayed' ? p : undefined
      },
      30000,
      'the relay to record the message relayed',
    )
    txn = page.messages[0]?.txn ?? ''
  })
  after(async () => {
    await h?.stop()
    await peer?.stop()
    await redis?.close()
  })

  test('Redis out of memory: the API still reads (200); wrong passwords are refused, ten at most checked', async () => {
    const admin = redis.client()
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '1')
    try {
      await assert.rejects(admin.set('probe', 'x'), /OOM/)
      const message = await fetch(`${base}message/${txn}`, { headers: AUTH })
      assert.equal(message.status, 200)
      assert.equal(((await message.json()) as { messageId: string }).messageId, 'oom@sender.example')
      const search = await fetch(`${base}search?toDomain=${DOMAIN}&since=1h`, { headers: AUTH })
      assert.equal(search.status, 200)
      assert.equal(((await search.json()) as TracePage).messages[0]?.txn, txn)
      assert.equal((await fetch(`${base}summary?since=1h`, { headers: AUTH })).status, 200)
      assert.equal((await fetch(`${base}message/${txn}`)).status, 401)
      // Without the budget's write, ten wrong passwords a spell are checked; then nothing is, the right one neither.
      // Guesses arriving together count each: of 30 at once, ten are checked and the rest refused unchecked.
      const guesses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          fetch(`${base}message/${txn}`, { headers: { authorization: basic(`guess${i}`) } }),
        ),
      )
      const codes = guesses.map((g) => g.status)
      assert.deepEqual(
        [codes.filter((c) => c === 401).length, codes.filter((c) => c === 503).length],
        [10, 20],
        codes.join(' '),
      )
      assert.equal((await fetch(`${base}message/${txn}`, { headers: AUTH })).status, 503)
    } finally {
      await admin.config('SET', 'maxmemory', '0')
    }
    // Redis takes the reservation again: the page is back.
    assert.equal((await fetch(`${base}message/${txn}`, { headers: AUTH })).status, 200)
  })

  test('Redis stopped: the API answers 503, and reads again once it is back', async () => {
    await redis.stop()
    try {
      const r = await fetch(`${base}message/${txn}`, { headers: AUTH, signal: AbortSignal.timeout(20_000) })
      assert.equal(r.status, 503)
    } finally {
      await redis.start()
    }
    // Restarted empty (no persistence): the message is gone, but the API reads again.
    await waitFor(
      async () => (await fetch(`${base}message/${txn}`, { headers: AUTH })).status === 404,
      20000,
      'the API to read again',
    )
  })
})
