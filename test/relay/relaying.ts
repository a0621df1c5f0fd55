// Relaying end to end (issue 4, "Done when"): Haraka A with this plugin relays to real next hops on loopback, and the
// tests assert what each next hop received on the wire and what A (and B) stored per recipient. Run once per mode by
// relaying-single.test.ts and relaying-cluster.test.ts, so the two modes run in parallel.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { TrackingNote } from '../../src/model/note'
import type { StoredRecipient } from '../../src/model/records'
import type { TrackingStore } from '../../src/store/store'
import { explainedBy, type HarakaInstance, startHaraka } from '../helpers/haraka'
import { type Peer, startPeer } from '../helpers/peer'
import { freePort, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'
import { openStore, waitForMessages } from '../helpers/store'

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk' // TV-1
const TIMEOUT = 7200
/** outbound.ini temp_fail_intervals: the shortest Haraka allows, so retries and give-ups fit a test. */
const RETRY_SECONDS = 5
const RETRIES = 2

export interface Rcpt {
  to: string
  params?: string
}

/**
 * Sends one message with exactly these MAIL and RCPT lines; returns when it is queued. localAddress: the loopback
 * address to send from (another client, to an ACL).
 */
export async function send(
  port: number,
  from: string,
  mailParams: string,
  rcpts: Rcpt[],
  body = 'Subject: relaying test\n\nhello\n',
  localAddress?: string,
): Promise<number> {
  const { client } = await SmtpClient.connect(port, localAddress)
  try {
    await client.cmd('EHLO client.test')
    const mail = await client.cmd(`MAIL FROM:<${from}>${mailParams ? ` ${mailParams}` : ''}`)
    assert.equal(mail.code, 250, mail.text)
    for (const r of rcpts) {
      const reply = await client.cmd(`RCPT TO:<${r.to}>${r.params ? ` ${r.params}` : ''}`)
      assert.equal(reply.code, 250, `${r.to}: ${reply.text}`)
    }
    const sent = Date.now()
    const data = await client.data(body)
    assert.equal(data.code, 250, data.text)
    return sent
  } finally {
    client.close()
  }
}

/** The outbound queue files of a stopped Haraka: the header (todo) of each, and when it is due. */
function queueFiles(dir: string): Array<{ nextAttempt: number; todo: QueuedTodo }> {
  const queue = join(dir, 'queue')
  return readdirSync(queue)
    .filter((name) => /^\d+_\d+_/.test(name))
    .map((name) => {
      const file = readFileSync(join(queue, name))
      const length = file.readUInt32BE(0)
      const todo = JSON.parse(file.subarray(4, 4 + length).toString()) as QueuedTodo
      return { nextAttempt: Number(name.split('_')[1]), todo }
    })
}

interface QueuedTodo {
  rcpt_to: Array<{ original: string }>
  notes: Record<string, unknown>
}

/** The seconds of `MTRK=<B>:<seconds>` in a MAIL FROM line, or null when it has no MTRK. */
function forwardedTimeout(mailLine: string | undefined): number | null {
  const m = / MTRK=([^:\s]+):(\d+)(?:\s|$)/.exec(mailLine ?? '')
  if (!m) return null
  assert.equal(m[1], B, 'MTRK-17: B unchanged')
  return Number(m[2])
}

export function relayingSuite(nodes: number): void {
  /** A failure carries the end of A's log: what outbound did is the first thing to look at. */
  const explained = explainedBy(() => a, 60)
  const tag = `n${nodes}`
  const envid = (name: string) => `${name}+2B${tag}@sender.example`
  const decoded = (name: string) => `${name}+${tag}@sender.example`
  const mtrkParams = (name: string) => `ENVID=${envid(name)} RET=HDRS MTRK=${B}:${TIMEOUT}`
  let redisPort: number
  let peer: Peer
  let a: HarakaInstance
  let b: HarakaInstance
  let storeA: TrackingStore
  let storeB: TrackingStore
  let slowSent: number

  /** Waits until A's record of a recipient satisfies `ok`. */
  const recipient = (name: string, address: string, ok: (r: StoredRecipient) => boolean, ms = 20000) =>
    waitFor(
      async () => {
        const [m] = await storeA.lookup(decoded(name))
        const r = m?.recipients.find((x) => x.address === address)
        return r && ok(r) ? r : undefined
      },
      ms,
      `${address} in ${decoded(name)}`,
    )

  before(async () => {
    redisPort = await sharedRedisPort()
    peer = await startPeer([
      { name: 'mtrk', ehlo: ['ENHANCEDSTATUSCODES', 'DSN', 'MTRK'] },
      { name: 'mtrkonly', ehlo: ['MTRK'] },
      { name: 'dsn', ehlo: ['ENHANCEDSTATUSCODES', 'DSN'] },
      { name: 'plain', ehlo: ['ENHANCEDSTATUSCODES'] },
      // MTRK and DSN only once TLS is up: what counts is the EHLO after STARTTLS (RFC 3207 §4.2).
      { name: 'tls', ehlo: [], ehloTls: ['DSN', 'MTRK'] },
    ])
    b = await startHaraka({
      redisPort,
      nodes,
      me: 'mx.b.test',
      files: { test_local_domains: 'b.relay.test\n' },
    })
    const routes: Record<string, { port: number; name: string }> = {
      'b.relay.test': { port: b.smtpPort, name: 'mx.b.test' },
      'closed.relay.test': { port: await freePort(), name: 'mx.closed.test' },
      // Haraka's bounces go back to the sender: to the plain next hop.
      'sender.example': { port: peer.ports.plain ?? 0, name: 'mx.sender.test' },
    }
    for (const [name, port] of Object.entries(peer.ports))
      routes[`${name}.relay.test`] = { port, name: `mx.${name}.test` }
    a = await startHaraka({
      redisPort,
      nodes,
      me: 'mx.a.test',
      plugins: ['aliases', 'test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
      files: {
        'test_mx.json': JSON.stringify(routes),
        'outbound.ini': `temp_fail_intervals=${Array(RETRIES).fill(`${RETRY_SECONDS}s`).join(',')}\nlocal_mx_ok=true\n`,
        'aliases.json': JSON.stringify({
          [`single-${tag}@local.test`]: { action: 'alias', to: `one-${tag}@mtrk.relay.test` },
          [`list-${tag}@local.test`]: {
            action: 'alias',
            to: [`m1-${tag}@mtrk.relay.test`, `m2-${tag}@dsn.relay.test`],
          },
        }),
      },
    })
    storeA = await openStore(redisPort, a.prefix)
    storeB = await openStore(redisPort, b.prefix)
    // The scenario that waits out the whole retry schedule starts first and runs while the others do.
    slowSent = await send(a.smtpPort, `slow-${tag}@sender.example`, mtrkParams('slow'), [
      { to: `refuse-data-${tag}@mtrk.relay.test` },
      { to: `u-${tag}@closed.relay.test` },
      { to: `defer-${tag}@dsn.relay.test` },
    ])
  })
  after(async () => {
    await a?.stop()
    await b?.stop()
    await peer?.stop()
    await storeA?.close()
    await storeB?.close()
  })

  test(
    'MTRK-12..17, DSN-10, DSN-11, AMB-21, AMB-22: each next hop gets what it advertised, byte for byte',
    explained(async () => {
      const sent = await send(a.smtpPort, 's@sender.example', mtrkParams('hops'), [
        {
          to: `ok-${tag}@mtrk.relay.test`,
          params: 'NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Ok+2Btag@Sender.Example',
        },
        { to: `w-${tag}@mtrkonly.relay.test`, params: 'NOTIFY=SUCCESS ORCPT=rfc822;w@mtrkonly.relay.test' },
        { to: `x-${tag}@dsn.relay.test`, params: 'NOTIFY=FAILURE ORCPT=RFC822;x+2B1@dsn.relay.test' },
        { to: `y-${tag}@plain.relay.test`, params: 'NOTIFY=NEVER ORCPT=rfc822;y@plain.relay.test' },
        { to: `z-${tag}@tls.relay.test`, params: 'ORCPT=rfc822;z@tls.relay.test' },
      ])
      const [mtrk] = await peer.waitForSessions('mtrk', new RegExp(`RCPT TO:<ok-${tag}@`))
      const elapsed = Math.ceil((Date.now() - sent) / 1000)
      assert.equal(
        mtrk?.[1]?.replace(/:\d+$/, ''),
        `MAIL FROM:<s@sender.example> ENVID=${envid('hops')} RET=HDRS MTRK=${B}`,
      )
      const timeout = forwardedTimeout(mtrk?.[1])
      assert.ok(
        timeout !== null && timeout <= TIMEOUT && timeout >= TIMEOUT - elapsed - 1,
        `MTRK-12: ${timeout}`,
      )
      assert.equal(
        mtrk?.[2],
        `RCPT TO:<ok-${tag}@mtrk.relay.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Ok+2Btag@Sender.Example`,
      )

      // AMB-21: MTRK implies ENVID and ORCPT support, but NOTIFY and RET are DSN's alone.
      const [mtrkOnly] = await peer.waitForSessions('mtrkonly', new RegExp(`RCPT TO:<w-${tag}@`))
      assert.match(mtrkOnly?.[1] ?? '', /^MAIL FROM:<s@sender\.example> ENVID=\S+ MTRK=\S+$/)
      assert.equal(mtrkOnly?.[2], `RCPT TO:<w-${tag}@mtrkonly.relay.test> ORCPT=rfc822;w@mtrkonly.relay.test`)

      const [dsn] = await peer.waitForSessions('dsn', new RegExp(`RCPT TO:<x-${tag}@`))
      assert.deepEqual(dsn, [
        'EHLO mx.a.test',
        `MAIL FROM:<s@sender.example> ENVID=${envid('hops')} RET=HDRS`, // MTRK-15: no MTRK
        `RCPT TO:<x-${tag}@dsn.relay.test> NOTIFY=FAILURE ORCPT=RFC822;x+2B1@dsn.relay.test`, // MTRK-16
        'DATA',
        'QUIT',
      ])
      const [plain] = await peer.waitForSessions('plain', new RegExp(`RCPT TO:<y-${tag}@`))
      assert.deepEqual(plain, [
        'EHLO mx.a.test',
        'MAIL FROM:<s@sender.example>', // DSN-11, AMB-22: nothing
        `RCPT TO:<y-${tag}@plain.relay.test>`,
        'DATA',
        'QUIT',
      ])
      const [tls] = await peer.waitForSessions('tls', new RegExp(`RCPT TO:<z-${tag}@`))
      assert.deepEqual(tls?.slice(0, 3), ['EHLO mx.a.test', 'STARTTLS', 'EHLO mx.a.test'])
      assert.match(
        tls?.[3] ?? '',
        new RegExp(` MTRK=${B.replace('/', '\\/')}:\\d+$`),
        'learned from the EHLO after STARTTLS',
      )
      assert.equal(tls?.[4], `RCPT TO:<z-${tag}@tls.relay.test> ORCPT=rfc822;z@tls.relay.test`)

      // TSN-18, TSN-21, AMB-30, AMB-36: one state per recipient, each with its own next hop.
      const expect = [
        [`ok-${tag}@mtrk.relay.test`, 'transferred', '2.6.0', 'mx.mtrk.test'], // the hop's own enhanced code
        [`w-${tag}@mtrkonly.relay.test`, 'transferred', '2.6.0', 'mx.mtrkonly.test'],
        [`x-${tag}@dsn.relay.test`, 'relayed', '2.1.9', 'mx.dsn.test'],
        [`y-${tag}@plain.relay.test`, 'relayed', '2.1.9', 'mx.plain.test'],
        [`z-${tag}@tls.relay.test`, 'transferred', '2.6.0', 'mx.tls.test'],
      ] as const
      for (const [address, action, status, host] of expect) {
        const r = await recipient('hops', address, (x) => x.action !== 'delayed')
        assert.equal(r.action, action, address)
        assert.equal(r.status, status, address)
        assert.equal(r.remoteMta, host, address)
        assert.ok(r.lastAttempt && r.lastAttempt >= sent, 'TSN-14: Last-Attempt-Date')
        assert.equal(r.willRetryUntil, null, 'TSN-15: no longer queued here')
        assert.deepEqual(
          r.history.map((h) => [h.action, h.host, h.code]),
          [[action, host, '250']],
        )
      }
    }),
  )

  test(
    'a second Haraka with this plugin (B) receives and records exactly what A forwards; A: transferred',
    explained(async () => {
      const sent = await send(a.smtpPort, 's@sender.example', mtrkParams('chain'), [
        { to: `u-${tag}@b.relay.test`, params: 'NOTIFY=SUCCESS ORCPT=rfc822;U+2Bb@B.relay.test' },
      ])
      const [m] = await waitForMessages(storeB, decoded('chain'))
      const elapsed = Math.ceil((Date.now() - sent) / 1000)
      assert.equal(m?.envidXtext, envid('chain'), 'ENVID byte for byte (MTRK-17)')
      assert.equal(m?.certifier, B, 'B unchanged (MTRK-17)')
      assert.ok(
        m?.requestedTimeout && m.requestedTimeout <= TIMEOUT && m.requestedTimeout >= TIMEOUT - elapsed - 1,
        `MTRK-12: remaining timeout ${m?.requestedTimeout}`,
      )
      assert.equal(m?.ret, 'HDRS')
      assert.equal(m?.reportingMta, 'mx.b.test')
      const atB = m?.recipients[0]
      assert.equal(atB?.orcpt, 'rfc822;U+2Bb@B.relay.test', 'ORCPT byte for byte')
      assert.equal(atB?.notify, 'SUCCESS')
      await waitFor(
        async () => (await storeB.lookup(decoded('chain')))[0]?.recipients[0]?.action === 'delivered',
      )
      const atA = await recipient('chain', `u-${tag}@b.relay.test`, (x) => x.action !== 'delayed')
      assert.equal(atA.action, 'transferred')
      assert.equal(atA.status, '2.4.0', 'ESC-3: B gave no enhanced code')
      assert.equal(atA.remoteMta, 'mx.b.test')
    }),
  )

  test(
    '4xx then 2xx, and 5xx: per-recipient codes, Will-Retry-Until, the history, the timeout decremented on retry',
    explained(async () => {
      const from = `s-codes-${tag}@sender.example`
      const sent = await send(a.smtpPort, from, mtrkParams('codes'), [
        { to: `ok2-${tag}@mtrk.relay.test` },
        { to: `defer-once-${tag}@mtrk.relay.test`, params: 'NOTIFY=DELAY' },
        { to: `reject-${tag}@mtrk.relay.test` },
      ])
      const rejected = await recipient('codes', `reject-${tag}@mtrk.relay.test`, (x) => x.action === 'failed')
      assert.equal(rejected.status, '5.1.1')
      assert.equal(rejected.remoteMta, 'mx.mtrk.test')
      assert.equal(rejected.willRetryUntil, null)
      assert.deepEqual(
        rejected.history.map((h) => [h.action, h.code, h.reply]),
        [['failed', '550', '5.1.1 no such user here']],
      )

      const delayed = await recipient(
        'codes',
        `defer-once-${tag}@mtrk.relay.test`,
        (x) => x.action === 'delayed' && x.history.length > 0,
      )
      assert.equal(delayed.status, '4.2.1', 'ESC-3: the next hop enhanced code')
      assert.equal(delayed.remoteMta, 'mx.mtrk.test')
      assert.ok(delayed.lastAttempt && delayed.lastAttempt >= sent)
      const schedule = RETRY_SECONDS * RETRIES * 1000
      assert.ok(
        delayed.willRetryUntil !== null &&
          delayed.willRetryUntil >= sent + schedule - 1000 &&
          delayed.willRetryUntil <= Date.now() + schedule,
        `TSN-22: Will-Retry-Until from the retry schedule: ${delayed.willRetryUntil} vs sent ${sent}`,
      )
      assert.ok(delayed.keepUntil > (delayed.willRetryUntil ?? 0), 'MTRK-10')
      assert.equal(delayed.history[0]?.code, '450')

      // Haraka's bounce for the rejected recipient: an untracked message, so no parameters and no record.
      const [bounce] = await peer.waitForSessions('plain', new RegExp(`RCPT TO:<${from}>`))
      assert.equal(bounce?.[1], 'MAIL FROM:<>')
      assert.equal(bounce?.[2], `RCPT TO:<${from}>`)

      const done = await recipient(
        'codes',
        `defer-once-${tag}@mtrk.relay.test`,
        (x) => x.action === 'transferred',
      )
      assert.deepEqual(
        done.history.map((h) => [h.action, h.status, h.code]),
        [
          ['delayed', '4.2.1', '450'],
          ['transferred', '2.6.0', '250'],
        ],
      )
      assert.equal(done.willRetryUntil, null)
      const sessions = await peer.waitForSessions('mtrk', new RegExp(`RCPT TO:<defer-once-${tag}@`), 2)
      const [first, second] = sessions.map((s) => forwardedTimeout(s[1]))
      assert.ok(
        first && second && second <= first - RETRY_SECONDS + 1 && second < first,
        `MTRK-12 on retry: ${first} then ${second}`,
      )
      assert.equal(sessions[1]?.[2], `RCPT TO:<defer-once-${tag}@mtrk.relay.test> NOTIFY=DELAY`)

      const [m] = await storeA.lookup(decoded('codes'))
      assert.equal(m?.recipients.length, 3, 'the bounce was not recorded as this message')
      assert.equal((await recipient('codes', `reject-${tag}@mtrk.relay.test`, () => true)).history.length, 1)
      assert.equal((await recipient('codes', `ok2-${tag}@mtrk.relay.test`, () => true)).action, 'transferred')
    }),
  )

  test(
    'whole-message failures: a refused message, an unreachable next hop, retries exhausted',
    explained(async () => {
      const refused = await recipient(
        'slow',
        `refuse-data-${tag}@mtrk.relay.test`,
        (x) => x.action === 'failed',
      )
      assert.equal(refused.status, '5.6.0')
      assert.equal(refused.remoteMta, 'mx.mtrk.test')
      assert.deepEqual(
        refused.history.map((h) => [h.code, h.reply]),
        [['554', '5.6.0 content refused']],
      )

      // TSN-13, TSN-22: no host reached, so no Remote-MTA; X.4.1 "no answer from host" (src/dsn/status, AMB-40).
      const unreachable = await recipient(
        'slow',
        `u-${tag}@closed.relay.test`,
        (x) => x.action === 'failed',
        30000,
      )
      assert.deepEqual(
        unreachable.history.map((h) => [h.action, h.status, h.host ?? null]),
        [
          ['delayed', '4.4.1', null],
          ['delayed', '4.4.1', null],
          ['failed', '5.4.1', null],
        ],
      )
      assert.equal(unreachable.remoteMta, null)
      assert.match(unreachable.history[0]?.reply ?? '', /Tried all MXs/)

      const exhausted = await recipient(
        'slow',
        `defer-${tag}@dsn.relay.test`,
        (x) => x.action === 'failed',
        30000,
      )
      assert.deepEqual(
        exhausted.history.map((h) => [h.action, h.status, h.code]),
        [
          ['delayed', '4.3.0', '451'],
          ['delayed', '4.3.0', '451'],
          ['failed', '5.3.0', '451'], // retries exhausted: Haraka's own 4 -> 5
        ],
      )
      assert.equal(exhausted.remoteMta, 'mx.dsn.test')
      assert.equal(exhausted.willRetryUntil, null)
      assert.ok(exhausted.lastAttempt && exhausted.lastAttempt >= slowSent + RETRIES * RETRY_SECONDS * 1000)
    }),
  )

  test(
    'MTRK-18..20, TSN-19, TSN-20: a single-recipient alias is a hop; a list gets nothing and is reported expanded',
    explained(async () => {
      await send(a.smtpPort, 's@sender.example', mtrkParams('alias'), [
        { to: `single-${tag}@local.test`, params: 'NOTIFY=SUCCESS' },
      ])
      const [hop] = await peer.waitForSessions('mtrk', new RegExp(`RCPT TO:<one-${tag}@`))
      assert.match(hop?.[1] ?? '', new RegExp(`ENVID=${envid('alias').replace('+', '\\+')} RET=HDRS MTRK=`))
      assert.equal(
        hop?.[2],
        `RCPT TO:<one-${tag}@mtrk.relay.test> NOTIFY=SUCCESS ORCPT=rfc822;single-${tag}@local.test`,
      )
      const one = await recipient('alias', `one-${tag}@mtrk.relay.test`, (x) => x.action === 'transferred')
      assert.equal(
        one.orcpt,
        `rfc822;single-${tag}@local.test`,
        'Original-Recipient: the address the sender used',
      )
      assert.equal((await storeA.lookup(decoded('alias')))[0]?.recipients.length, 1)

      await send(a.smtpPort, 's@sender.example', mtrkParams('list'), [
        { to: `list-${tag}@local.test`, params: `NOTIFY=SUCCESS ORCPT=rfc822;List-${tag}@local.test` },
      ])
      const [m1] = await peer.waitForSessions('mtrk', new RegExp(`RCPT TO:<m1-${tag}@`))
      const [m2] = await peer.waitForSessions('dsn', new RegExp(`RCPT TO:<m2-${tag}@`))
      assert.deepEqual(m1?.slice(1, 3), [
        'MAIL FROM:<s@sender.example>',
        `RCPT TO:<m1-${tag}@mtrk.relay.test>`,
      ])
      assert.deepEqual(m2?.slice(1, 3), [
        'MAIL FROM:<s@sender.example>',
        `RCPT TO:<m2-${tag}@dsn.relay.test>`,
      ])
      const [m] = await storeA.lookup(decoded('list'))
      assert.deepEqual(
        m?.recipients.map((r) => [r.address, r.orcpt, r.action, r.status]),
        [[`list-${tag}@local.test`, `rfc822;List-${tag}@local.test`, 'expanded', '2.5.0']],
        'the list is reported, its members never',
      )
    }),
  )

  test(
    'a restart while a message is deferred: the queue file keeps the note, retry forwards and records',
    explained(async () => {
      const address = `defer-once-restart-${tag}@mtrk.relay.test`
      await send(a.smtpPort, 's@sender.example', mtrkParams('restart'), [
        { to: address, params: 'ORCPT=rfc822;Restart@sender.example' },
      ])
      await recipient('restart', address, (x) => x.action === 'delayed' && x.history.length === 1)
      await a.stop()
      // What survives the restart is the queue file, whose header carries transaction.notes (HRK-10).
      const queued = queueFiles(a.dir).find((f) => f.todo.rcpt_to.some((r) => r.original === `<${address}>`))
      const note = queued?.todo.notes.mtrk as TrackingNote | undefined
      assert.equal(note?.track?.certifier, B)
      assert.equal(note?.envid, envid('restart'))
      assert.equal(note?.rcpts[address]?.orcpt, 'rfc822;Restart@sender.example')
      // Haraka waits out the retry interval twice when it loads a file not yet due; starting once it is due saves that.
      await waitFor(
        () => Date.now() >= (queued?.nextAttempt ?? 0),
        RETRY_SECONDS * 1000 + 1000,
        'the retry time',
      )
      await a.start()
      const done = await recipient('restart', address, (x) => x.action === 'transferred', 30000)
      assert.deepEqual(
        done.history.map((h) => h.action),
        ['delayed', 'transferred'],
      )
      const sessions = await peer.waitForSessions('mtrk', new RegExp(`RCPT TO:<${address}>`), 2)
      const [first, second] = sessions.map((s) => forwardedTimeout(s[1]))
      assert.ok(first && second && second < first, `after the restart: ${first} then ${second}`)
      assert.equal(sessions[1]?.[2], `RCPT TO:<${address}> ORCPT=rfc822;Restart@sender.example`)
    }),
  )
}
