// Final aliases end to end (RFC 3885 §4.2, RFC 3886 §4.2, [main] final_aliases): a real Haraka with Haraka's
// `aliases` plugin and this plugin relays to an aiosmtpd next hop that speaks MTRK and DSN. Tracking over MTQP, the
// report to the sender, what the next hop received and the operator trace are each read back; a reload of
// config/mtrk.ini turns tracking through on again. With the option unset, test/relay/relaying.ts covers aliases.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { parseConfig } from '../../src/config/config'
import type { StoredRecipient } from '../../src/model/records'
import type { TrackingStore } from '../../src/store/store'
import { openTrace, type Trace } from '../../src/trace/index'
import { parseTrackingBody } from '../../src/tsn/reader'
import { field, parseReports } from '../dsn/python'
import { explainedBy, type HarakaInstance, ini, startHaraka } from '../helpers/haraka'
import { destroyMtqpClients, MtqpTestClient } from '../helpers/mtqp'
import { type Peer, startPeer } from '../helpers/peer'
import { sleep, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { openStore, waitForMessages } from '../helpers/store'
import { send } from './relaying'

const SECRET = 'AAECAwQFBgcICQoLDA0ODw==' // TV-1: A = 00..0f
const B = 'VheLhqV/rCKJmplkGFwsyW59pYk' // base64(SHA-1(A))
const COALESCE_MS = 1000
/** How long "no report" is waited for once the outcome is known: the coalescing window and then some. */
const QUIET_MS = COALESCE_MS + 3000
const FINAL_ALIASES = 'Postmaster@local.test, @private.test'

let redisPort: number
let peer: Peer
let a: HarakaInstance
let store: TrackingStore
let trace: Trace

const tracked = (name: string) => `ENVID=${name}@sender.example RET=HDRS MTRK=${B}:7200`
const reportsTo = (sender: string) => peer.messages().filter((m) => m.rcpt_tos.includes(sender))

/** The recipients of this relay's MTQP answer for an envid, as a tracking client reads them. */
async function trackAnswer(envid: string) {
  await waitForMessages(store, envid)
  const c = await MtqpTestClient.connect(a.mtqpPort)
  await c.next()
  c.send(`TRACK ${envid} ${SECRET}\r\n`)
  const r = await c.next()
  c.send('QUIT\r\n')
  assert.equal(r.indicator, '+OK+', c.raw)
  const parts = parseTrackingBody((r.lines ?? []).join('\r\n'))
  assert.ok(parts.ok, parts.ok ? '' : parts.error)
  return { raw: c.raw, recipients: parts.value.flatMap((p) => p.recipients) }
}

/** The trace's recipients of the message with this envid, once `ok` holds for them. */
function traced(envid: string, ok: (rs: StoredRecipient[]) => boolean): Promise<StoredRecipient[]> {
  return waitFor(
    async () => {
      const q = trace.query({ envid })
      assert.ok(q.ok)
      const [m] = (await trace.search(q.value)).messages
      return m && ok(m.recipients) ? m.recipients : undefined
    },
    20000,
    `the trace of ${envid}`,
  )
}

const states = (rs: StoredRecipient[]) => rs.map((r) => [r.address, r.action]).sort()

before(async () => {
  redisPort = await sharedRedisPort()
  peer = await startPeer([
    { name: 'mtrk', ehlo: ['ENHANCEDSTATUSCODES', 'DSN', 'MTRK'] },
    { name: 'sink', ehlo: ['ENHANCEDSTATUSCODES'], store: true },
  ])
  a = await startHaraka({
    redisPort,
    me: 'mx.a.test',
    plugins: ['aliases', 'test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    files: {
      'test_mx.json': JSON.stringify({
        'mtrk.relay.test': { port: peer.ports.mtrk, name: 'mx.mtrk.test' },
        'sender.example': { port: peer.ports.sink, name: 'mx.sender.test' },
      }),
      'outbound.ini': 'local_mx_ok=true\n',
      'aliases.json': JSON.stringify({
        'postmaster@local.test': { action: 'alias', to: 'pat@mtrk.relay.test' },
        'public@local.test': { action: 'alias', to: 'pub@mtrk.relay.test' },
        'hidden@private.test': { action: 'alias', to: 'reject-hidden@mtrk.relay.test' },
      }),
    },
    mtrk: { main: { final_aliases: FINAL_ALIASES }, dsn: { coalesce_ms: COALESCE_MS } },
  })
  store = await openStore(redisPort, a.prefix)
  trace = await openTrace(parseConfig({ redis: { port: redisPort, prefix: a.prefix } }).config)
})

after(async () => {
  destroyMtqpClients()
  await a?.stop()
  await peer?.stop()
  await store?.close()
  await trace?.close()
})

/** A failure carries the end of Haraka's log. */
const explained = explainedBy(() => a)

test(
  'MTRK-22, TSN-25: a final alias is answered delivered over MTQP and by DSN; its target gets no MTRK nor ORCPT; other aliases are hops',
  explained(async () => {
    const sender = 'pm@sender.example'
    await send(a.smtpPort, sender, tracked('pm'), [
      { to: 'postmaster@local.test', params: 'NOTIFY=SUCCESS ORCPT=rfc822;Postmaster@local.test' },
    ])
    const [copy] = await peer.waitForSessions('mtrk', /RCPT TO:<pat@mtrk\.relay\.test>/)
    assert.deepEqual(copy?.slice(0, 3), [
      'EHLO mx.a.test',
      `MAIL FROM:<${sender}>`, // no ENVID, RET nor MTRK, though the hop speaks MTRK and DSN
      'RCPT TO:<pat@mtrk.relay.test>', // no ORCPT naming the original, no NOTIFY
    ])

    const answer = await trackAnswer('pm@sender.example')
    assert.equal(answer.recipients.length, 1)
    const [pm] = answer.recipients
    assert.deepEqual(pm?.finalRecipient, { type: 'rfc822', value: 'postmaster@local.test' })
    assert.deepEqual(pm?.originalRecipient, { type: 'rfc822', value: 'Postmaster@local.test' })
    assert.equal(pm?.action, 'delivered')
    assert.equal(pm?.status, '2.5.0')
    assert.equal(pm?.remoteMta, undefined, 'nothing beyond this relay is disclosed')
    assert.doesNotMatch(answer.raw, /pat@|mtrk\.relay\.test/)

    // RFC 3461 §5.2.7.4: the sender asked NOTIFY=SUCCESS and hears `delivered` for the address it used.
    await waitFor(() => reportsTo(sender).length > 0, 20000, `a report to ${sender}`)
    const [report] = parseReports(reportsTo(sender).map((m) => m.data))
    const groups = report?.parts[1]?.recipients ?? []
    assert.deepEqual(
      groups.map((g) => [field(g, 'Final-Recipient'), field(g, 'Action'), field(g, 'Status')]),
      [['rfc822; postmaster@local.test', 'delivered', '2.5.0']],
    )
    assert.doesNotMatch(reportsTo(sender)[0]?.data ?? '', /pat@mtrk/)

    // The operator still sees where it went.
    const rs = await traced('pm@sender.example', (x) => x.some((r) => r.action === 'relayed'))
    assert.deepEqual(states(rs), [
      ['pat@mtrk.relay.test', 'relayed'],
      ['postmaster@local.test', 'delivered'],
    ])
    assert.equal(reportsTo(sender).length, 1, 'none about the relayed copy')

    // MTRK-18: an alias final_aliases does not name is tracked through, as without the option.
    await send(a.smtpPort, 'pub@sender.example', tracked('pub'), [{ to: 'public@local.test' }])
    const [hop] = await peer.waitForSessions('mtrk', /RCPT TO:<pub@mtrk\.relay\.test>/)
    assert.match(hop?.[1] ?? '', / ENVID=pub@sender\.example RET=HDRS MTRK=/)
    assert.equal(hop?.[2], 'RCPT TO:<pub@mtrk.relay.test> ORCPT=rfc822;public@local.test')
    const [pub] = (await trackAnswer('pub@sender.example')).recipients
    assert.deepEqual(pub?.finalRecipient, { type: 'rfc822', value: 'pub@mtrk.relay.test' })
  }),
)

test(
  'RFC 3461 §5.2.7.4, TSN-25: an @domain entry; the refusal of its target reaches neither tracking nor the sender',
  explained(async () => {
    const sender = 'hidden@sender.example'
    await send(a.smtpPort, sender, tracked('hidden'), [{ to: 'hidden@private.test' }])
    const rs = await traced('hidden@sender.example', (x) => x.some((r) => r.action === 'failed'))
    assert.deepEqual(states(rs), [
      ['hidden@private.test', 'delivered'],
      ['reject-hidden@mtrk.relay.test', 'failed'],
    ])
    await a.waitForLog(/no failed report about <reject-hidden@mtrk\.relay\.test>: a final alias led there/)
    await sleep(QUIET_MS)
    assert.deepEqual(reportsTo(sender), [], 'neither our report nor Haraka bounce names the target')
    const [hidden] = (await trackAnswer('hidden@sender.example')).recipients
    assert.deepEqual([hidden?.finalRecipient.value, hidden?.action], ['hidden@private.test', 'delivered'])
  }),
)

test(
  'a reload of config/mtrk.ini applies at once: with final_aliases=* the alias that was a hop is final',
  explained(async () => {
    const sections = {
      main: { final_aliases: '*' },
      redis: { host: '127.0.0.1', port: redisPort, prefix: a.prefix },
      mtqp: { listen: `127.0.0.1:${a.mtqpPort}` },
      dsn: { coalesce_ms: COALESCE_MS },
    }
    writeFileSync(join(a.dir, 'config', 'mtrk.ini'), ini(sections))
    const toPub = /RCPT TO:<pub@mtrk\.relay\.test>/
    // Haraka notices the change within moments: until then a message is still tracked through.
    const copy = await waitFor(
      async () => {
        const seen = peer.sessions('mtrk').filter((s) => s.some((l) => toPub.test(l))).length
        await send(a.smtpPort, 'r@sender.example', tracked(`reload-${seen}`), [{ to: 'public@local.test' }])
        const last = (await peer.waitForSessions('mtrk', toPub, seen + 1)).at(-1)
        return last?.[1]?.includes(' MTRK=') ? undefined : last
      },
      20000,
      'public@local.test as a final alias',
    )
    assert.deepEqual(copy.slice(1, 3), ['MAIL FROM:<r@sender.example>', 'RCPT TO:<pub@mtrk.relay.test>'])
  }),
)
