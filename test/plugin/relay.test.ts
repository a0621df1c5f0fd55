// The relaying hooks at hook level, with haraka-test-fixtures: what each outcome hook writes, that they always
// continue, and the forwarding decisions of the plugin (./relay.ts). No Haraka process: the store is replaced by a
// recorder, and outbound modules cannot be resolved (so the seam is absent here, as in a Haraka without it).
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import {
  callHook,
  callMail,
  callQueueOk,
  callRcpt,
  type FixtureConnection,
  type FixturePlugin,
  makeConnection,
} from 'haraka-test-fixtures'
import type { HMailItem, OutboundRecipient } from '../../src/haraka/types'
import type { TrackingNote } from '../../src/model/note'
import type { RecordWrite } from '../../src/model/records'
import { forwarderFor } from '../../src/plugin/relay'
import type { MtrkPlugin } from '../../src/plugin/state'
import type { TrackingStore } from '../../src/store/store'
import { fixturePlugin } from '../helpers/fixtures'
import { Address } from '../helpers/haraka'

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk'

/** A plugin whose store writes are recorded instead of sent, and whose warnings and priorities (by method) are kept. */
function plugin(): {
  p: FixturePlugin
  writes: RecordWrite[]
  warnings: string[]
  priorities: Map<string, number>
} {
  const p = fixturePlugin({ register: false })
  const warnings: string[] = []
  const priorities = new Map<string, number>()
  const m = p as unknown as MtrkPlugin & { register(): void }
  m.logwarn = (msg: unknown) => warnings.push(String(msg))
  const registerHook = m.register_hook.bind(m)
  m.register_hook = (hook, method, priority) => {
    priorities.set(method, priority ?? 0)
    registerHook(hook, method, priority)
  }
  m.register()
  const writes: RecordWrite[] = []
  const store = { submit: (w: RecordWrite) => writes.push(w), close: async () => {} }
  if (m.mtrk) m.mtrk.store = store as unknown as TrackingStore
  return { p, writes, warnings, priorities }
}

const note = (over: Partial<TrackingNote> = {}): TrackingNote => ({
  v: 1,
  envid: 'e+2B1@h.test',
  ret: null,
  track: { certifier: B, timeout: null, retention: 3600, envid: 'e+1@h.test' },
  arrival: Date.now() - 1000,
  rcpts: { 'u@far.test': { orcpt: 'rfc822;U@far.test', notify: 'DELAY' } },
  ...over,
})

const rcpt = (a: string, dsn: Partial<OutboundRecipient> = {}) => Object.assign(new Address(`<${a}>`), dsn)

function hmail(
  rcpts: OutboundRecipient[],
  notes: Record<string, unknown> = { mtrk: note() },
): HMailItem & { errors: string[] } {
  const errors: string[] = []
  const log = () => {}
  return {
    todo: {
      uuid: 'CONN.1.2',
      domain: 'far.test',
      queue_time: Date.now() - 1000,
      mail_from: new Address('<s@h.test>'),
      rcpt_to: rcpts,
      notes,
    },
    num_failures: 0,
    data_stream: () => Readable.from([]),
    file_size: 0,
    data_start: 0,
    filename: '1_2_0_3_UID_4_host',
    errors,
    logdebug: log,
    loginfo: log,
    lognotice: log,
    logwarn: log,
    logerror: (_p: unknown, m: string) => errors.push(m),
  }
}

const onlyEvent = (writes: RecordWrite[]) => {
  assert.equal(writes.length, 1)
  return writes[0]?.recipients.map((r) => ({ key: r.key, ...r.event?.patch, attempt: r.event?.attempt }))
}

test('register: outcome hooks at priority -50; without the seam one clear warning, and nothing is forwarded', () => {
  const { warnings, priorities } = plugin()
  for (const method of [
    'relay_attempt',
    'record_delivered',
    'record_deferred',
    'record_bounce',
    'note_redirection',
  ]) {
    assert.equal(priorities.get(method), -50, method)
  }
  const seam = warnings.filter((w) => w.includes('try_deliver_host_on_socket'))
  assert.equal(seam.length, 1)
  assert.match(seam[0] ?? '', /NOT passed on to next hops.*never "transferred"/)
})

test('TSN-18: accepted without the seam (no hop known): relayed 2.1.9, Remote-MTA from the hook', async () => {
  const { p, writes } = plugin()
  const h = hmail([rcpt('u@far.test')])
  const r = await callHook(p, 'record_delivered', h, [
    'mx.far.test',
    '192.0.2.1',
    'queued',
    0.1,
    25,
    'SMTP',
    h.todo.rcpt_to,
    false,
    false,
  ])
  assert.equal(r.rc, undefined, 'CONT')
  const [e] = onlyEvent(writes) ?? []
  assert.equal(writes[0]?.message.txn, 'CONN.1', 'the transaction id, without the per-domain suffix')
  assert.equal(e?.action, 'relayed')
  assert.equal(e?.status, '2.1.9')
  assert.equal(e?.remoteMta, 'mx.far.test')
  assert.equal(e?.attempt?.id, 'CONN.1.2:UID:0:accepted')
  assert.equal(writes[0]?.recipients[0]?.base.orcpt, 'rfc822;U@far.test')
})

test('TSN-24: accepted over LMTP without MTRK is delivered 2.5.0', async () => {
  const { p, writes } = plugin()
  const h = hmail([rcpt('u@far.test')])
  await callHook(p, 'record_delivered', h, ['lda', '', 'ok', 0, 24, 'LMTP', h.todo.rcpt_to, false, false])
  assert.deepEqual(
    onlyEvent(writes)?.map((e) => [e.action, e.status]),
    [['delivered', '2.5.0']],
  )
})

test('deferred: per-recipient codes from fail_recips; whole-attempt failures without a host; always CONT', async () => {
  const { p, writes } = plugin()
  const refused = rcpt('u@far.test', {
    dsn_smtp_code: '450',
    dsn_smtp_extc: '4.2.1',
    dsn_smtp_response: 'busy',
  })
  const h = hmail([rcpt('u@far.test')])
  h.num_failures = 1
  const r = await callHook(p, 'record_deferred', h, {
    delay: 64,
    err: 'Some recipients temp failed',
    fail_recips: [refused],
    mx: { exchange: '192.0.2.1', from_dns: 'mx.far.test' },
  })
  assert.equal(r.rc, undefined, 'CONT: anything else deletes the queued mail (HRK-13)')
  const [e] = onlyEvent(writes) ?? []
  assert.equal(e?.action, 'delayed')
  assert.equal(e?.status, '4.2.1')
  assert.equal(e?.remoteMta, 'mx.far.test')
  assert.ok(e?.willRetryUntil && e.willRetryUntil > Date.now(), 'TSN-22')
  assert.deepEqual(
    [e?.attempt?.id, e?.attempt?.code, e?.attempt?.reply],
    ['CONN.1.2:UID:1:deferred', '450', '4.2.1 busy'],
  )

  writes.length = 0
  await callHook(p, 'record_deferred', h, { delay: 64, err: 'Tried all MXs' })
  const [w] = onlyEvent(writes) ?? []
  assert.deepEqual(
    [w?.action, w?.status, 'remoteMta' in (w ?? {}), w?.attempt?.reply],
    ['delayed', '4.4.1', false, 'Tried all MXs'], // no answer from host (src/dsn/status)
  )
})

test('bounce: refused recipients, split files out of retries (4.x.y -> 5.x.y), whole-attempt failures', async () => {
  const { p, writes } = plugin()
  const mx = { exchange: 'mx.far.test' }
  const dsn = { dsn_smtp_code: '550', dsn_smtp_extc: '5.1.1', dsn_smtp_response: 'no such user' }
  const h = hmail([rcpt('u@far.test')])
  const bounced = Object.assign(new Error('Some recipients failed'), {
    mx,
    bounced_rcpt: [rcpt('u@far.test', dsn)],
  })
  await callHook(p, 'record_bounce', h, bounced)
  const later = { dsn_smtp_code: '451', dsn_smtp_extc: '4.3.0', dsn_smtp_response: 'busy' }
  const exhausted = Object.assign(new Error('Too many failures'), {
    mx,
    deferred_rcpt: [rcpt('u@far.test', later)],
  })
  await callHook(p, 'record_bounce', h, exhausted)
  await callHook(p, 'record_bounce', h, new Error('No MX for far.test'))
  assert.deepEqual(
    writes.map((w) => {
      const e = w.recipients[0]?.event
      return [e?.patch.action, e?.patch.status, e?.patch.remoteMta, e?.attempt.code, e?.attempt.reply]
    }),
    [
      ['failed', '5.1.1', 'mx.far.test', '550', '5.1.1 no such user'],
      ['failed', '5.3.0', 'mx.far.test', '451', '4.3.0 busy'],
      ['failed', '5.4.4', undefined, undefined, 'No MX for far.test'], // unable to route
    ],
  )
})

test("untracked hmails (Haraka's own bounces, DSN-only messages) and expansion members are not recorded", async () => {
  const { p, writes } = plugin()
  const ok = (h: HMailItem) => ['mx', '', 'ok', 0, 25, 'SMTP', h.todo.rcpt_to, false, false]
  const bounce = hmail([rcpt('s@h.test')], {})
  bounce.todo.mail_from = new Address('<>')
  assert.equal((await callHook(p, 'record_delivered', bounce, ok(bounce))).rc, undefined)
  const dsnOnly = hmail([rcpt('u@far.test')], { mtrk: note({ track: null }) })
  await callHook(p, 'record_delivered', dsnOnly, ok(dsnOnly))
  const members = hmail([rcpt('m1@far.test')], {
    mtrk: note({ rcpts: { 'm1@far.test': { orcpt: null, notify: null, memberOf: 'list@h.test' } } }),
  })
  await callHook(p, 'record_delivered', members, ok(members))
  assert.deepEqual(writes, [])
})

test('a broken hmail or argument never throws nor stops the hook: next() once, with CONT, and an error logged', () => {
  const { p, writes } = plugin()
  const m = p as unknown as Record<string, (next: (rc?: number) => void, ...a: unknown[]) => void>
  const broken = hmail([rcpt('u@far.test')])
  ;(broken.todo as { rcpt_to: unknown }).rcpt_to = 'not a list'
  for (const [method, arg] of [
    ['record_deferred', { delay: 1, err: 'x' }],
    ['record_bounce', new Error('x')],
    ['record_delivered', null],
  ] as const) {
    const calls: Array<number | undefined> = []
    assert.doesNotThrow(() => m[method]?.((rc) => calls.push(rc), broken, arg))
    assert.deepEqual(calls, [undefined], method)
  }
  assert.equal(broken.errors.length, 3)
  assert.match(broken.errors[0] ?? '', /tracking not recorded/)
  assert.deepEqual(writes, [])
})

test('forwarding decisions: the recipient behind each RCPT spelling, expansions withheld, [relay] forward=false', () => {
  const { p } = plugin()
  const m = p as unknown as MtrkPlugin
  const idn = rcpt('v@bücher.test')
  const h = hmail([rcpt('u@far.test'), idn], {
    mtrk: note({ rcpts: { [`v@${idn.host}`]: { orcpt: 'rfc822;V@x', notify: null } } }),
  })
  const both = { mtrk: true, dsn: true }
  const f = forwarderFor(m, h)
  assert.ok(f)
  assert.deepEqual(f.rcpt('<v@xn--bcher-kva.test>', both), ['ORCPT=rfc822;V@x'], 'punycode, without SMTPUTF8')
  assert.deepEqual(f.rcpt('<v@bücher.test>', both), ['ORCPT=rfc822;V@x'], 'UTF-8, with SMTPUTF8')
  assert.deepEqual(f.rcpt('<u@far.test>', both), [], 'an entry only for recipients that sent NOTIFY or ORCPT')
  assert.equal(f.mail(both).mtrkSent, true)

  const withMember = hmail([rcpt('u@far.test'), rcpt('m1@far.test')], {
    mtrk: note({ rcpts: { 'm1@far.test': { orcpt: null, notify: null, memberOf: 'list@h.test' } } }),
  })
  assert.deepEqual(forwarderFor(m, withMember)?.mail(both), { params: [], mtrkSent: false }, 'MTRK-19')

  assert.equal(forwarderFor(m, hmail([rcpt('u@far.test')], {})), null, 'nothing to forward')
  if (m.mtrk) m.mtrk.config.relay.forward = false
  assert.equal(forwarderFor(m, h), null, '[relay] forward=false')
})

/** A client's MAIL FROM with these parameters, over a new connection whose client may relay. */
async function mailFrom(p: FixturePlugin, params: Record<string, string>): Promise<FixtureConnection> {
  const c = makeConnection({ withTxn: true, helo: 'client.test', silent: true })
  c.relaying = true
  c.current_line = `MAIL FROM:<s@h.test>${Object.entries(params)
    .map(([k, v]) => ` ${k}=${v}`)
    .join('')}`
  await callMail(p, c, 's@h.test', params)
  return c
}

/** One RCPT through the rcpt hooks, replaced in rcpt_to by `products` as Haraka's aliases plugin does. */
async function receive(
  p: FixturePlugin,
  c: FixtureConnection,
  address: string,
  params: string,
  products: string[],
) {
  const received = new Address(`<${address}>`)
  c.transaction.rcpt_to.push(received) // core adds it before the rcpt hooks
  c.current_line = `RCPT TO:<${address}>${params}`
  // Haraka's parse of the same line (keyword upper-cased, value as sent).
  const parsed = Object.fromEntries(
    params
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((t) => t.split('=')),
  )
  await callRcpt(p, c, received, parsed)
  c.transaction.rcpt_to.pop() // what Haraka's aliases plugin does
  for (const a of products) c.transaction.rcpt_to.push(new Address(`<${a}>`))
  await callHook(p, 'note_redirection', c)
}

test('MTRK-18..20 at the rcpt hooks: what replaced a recipient in rcpt_to is noted; a list is recorded expanded', async () => {
  const { p, writes } = plugin()
  const c = await mailFrom(p, { ENVID: 'e@h.test', MTRK: B })
  await receive(p, c, 'Single@h.test', ' NOTIFY=SUCCESS', ['one@far.test'])
  await receive(p, c, 'list@h.test', '', ['m1@far.test', 'm2@far.test'])
  await receive(p, c, 'plain@far.test', ' NOTIFY=NEVER', ['plain@far.test'])
  assert.deepEqual((c.transaction.notes.mtrk as TrackingNote).rcpts, {
    'one@far.test': { orcpt: 'rfc822;Single@h.test', notify: 'SUCCESS' },
    'list@h.test': { orcpt: null, notify: null, expanded: 'list@h.test' },
    'm1@far.test': { orcpt: null, notify: null, memberOf: 'list@h.test' },
    'm2@far.test': { orcpt: null, notify: null, memberOf: 'list@h.test' },
    'plain@far.test': { orcpt: null, notify: 'NEVER' },
  })
  c.transaction.results.add({ name: 'outbound' }, { pass: 'queued' })
  await callQueueOk(p, c, 'queued')
  assert.deepEqual(
    writes[0]?.recipients.map((r) => [r.base.address, r.base.orcpt, r.event?.patch.action ?? 'queued']),
    [
      ['one@far.test', 'rfc822;Single@h.test', 'queued'],
      ['plain@far.test', null, 'queued'],
      ['list@h.test', null, 'expanded'],
    ],
  )
})

test('MTRK-22 at the rcpt hooks: final_aliases, read per recipient, makes an alias delivered and its target a member', async () => {
  const { p, writes } = plugin()
  const m = p as unknown as MtrkPlugin
  assert.ok(m.mtrk)
  const c = await mailFrom(p, { ENVID: 'e@h.test', MTRK: B })
  await receive(p, c, 'PM@h.test', ' NOTIFY=SUCCESS ORCPT=rfc822;PM@h.test', ['before@far.test'])
  m.mtrk.config.main.finalAliases = new Set(['pm@h.test', '@private.test'])
  await receive(p, c, 'pm@h.test', ' NOTIFY=SUCCESS ORCPT=rfc822;PM@h.test', ['alice@far.test'])
  await receive(p, c, 'u@private.test', '', ['bob@far.test'])
  await receive(p, c, 'public@h.test', '', ['carol@far.test'])
  assert.deepEqual((c.transaction.notes.mtrk as TrackingNote).rcpts, {
    'before@far.test': { orcpt: 'rfc822;PM@h.test', notify: 'SUCCESS' },
    'pm@h.test': { orcpt: 'rfc822;PM@h.test', notify: 'SUCCESS', delivered: 'pm@h.test' },
    'alice@far.test': { orcpt: null, notify: null, memberOf: 'pm@h.test' },
    'u@private.test': { orcpt: null, notify: null, delivered: 'u@private.test' },
    'bob@far.test': { orcpt: null, notify: null, memberOf: 'u@private.test' },
    'carol@far.test': { orcpt: 'rfc822;public@h.test', notify: null },
  })
  c.transaction.results.add({ name: 'outbound' }, { pass: 'queued' })
  await callQueueOk(p, c, 'queued')
  assert.deepEqual(
    writes[0]?.recipients.map((r) => [
      r.base.address,
      r.event?.patch.action ?? 'queued',
      r.event?.patch.status,
    ]),
    [
      ['before@far.test', 'queued', undefined],
      ['carol@far.test', 'queued', undefined],
      ['pm@h.test', 'delivered', '2.5.0'],
      ['u@private.test', 'delivered', '2.5.0'],
    ],
    'tracking ends at the alias: alice and bob have no record',
  )
  const both = { mtrk: true, dsn: true }
  const f = forwarderFor(m, hmail([rcpt('alice@far.test')], c.transaction.notes))
  assert.deepEqual(f?.mail(both), { params: [], mtrkSent: false }, 'no MTRK, no ENVID')
  assert.deepEqual(f?.rcpt('<alice@far.test>', both), [], 'no ORCPT, no NOTIFY')

  // A message without any DSN parameter: the final alias is noted all the same, for the reports (RFC 3461 §5.2.7.4).
  const plain = await mailFrom(p, {})
  await receive(p, plain, 'pm@h.test', '', ['alice@far.test'])
  assert.deepEqual((plain.transaction.notes.mtrk as TrackingNote).rcpts, {
    'pm@h.test': { orcpt: null, notify: null, delivered: 'pm@h.test' },
    'alice@far.test': { orcpt: null, notify: null, memberOf: 'pm@h.test' },
  })
  const none = await mailFrom(p, {})
  await receive(p, none, 'public@h.test', '', ['carol@far.test'])
  assert.equal(none.transaction.notes.mtrk, undefined, 'an ordinary hop of such a message needs no note')
})

test('a recipient the sender named itself stays its own when a final alias or a list also leads to it', async () => {
  const { p, writes } = plugin()
  const m = p as unknown as MtrkPlugin
  assert.ok(m.mtrk)
  m.mtrk.config.main.finalAliases = new Set(['pm@h.test'])
  const c = await mailFrom(p, { ENVID: 'e@h.test', MTRK: B })
  // Named first (with and without DSN parameters), then reached again through a final alias and a list.
  await receive(p, c, 'bob@far.test', ' NOTIFY=SUCCESS,FAILURE', ['bob@far.test'])
  await receive(p, c, 'dan@far.test', '', ['dan@far.test'])
  await receive(p, c, 'pm@h.test', '', ['bob@far.test'])
  await receive(p, c, 'list@h.test', '', ['dan@far.test', 'm1@far.test'])
  // Named by the sender but refused by a later rcpt hook: it stays what the list made it (no rcpt_ok).
  for (const params of ['', ' NOTIFY=SUCCESS']) {
    const refused = new Address('<m1@far.test>')
    c.transaction.rcpt_to.push(refused)
    c.current_line = `RCPT TO:<m1@far.test>${params}`
    await callRcpt(p, c, refused, params ? { NOTIFY: 'SUCCESS' } : {})
    c.transaction.rcpt_to.pop() // what Haraka does with a refused recipient
  }
  assert.deepEqual((c.transaction.notes.mtrk as TrackingNote).rcpts, {
    'bob@far.test': { orcpt: null, notify: 'SUCCESS,FAILURE' },
    'pm@h.test': { orcpt: null, notify: null, delivered: 'pm@h.test' },
    'list@h.test': { orcpt: null, notify: null, expanded: 'list@h.test' },
    'm1@far.test': { orcpt: null, notify: null, memberOf: 'list@h.test' },
  })
  c.transaction.results.add({ name: 'outbound' }, { pass: 'queued' })
  await callQueueOk(p, c, 'queued')
  const tracked = writes[0]?.recipients.map((r) => r.base.address)
  assert.ok(tracked?.includes('bob@far.test') && tracked.includes('dan@far.test'), 'bob and dan are tracked')
  assert.ok(!tracked?.includes('m1@far.test'), 'a list member is not')
  // Reached through the final alias first, then named by the sender: from then on the sender's own.
  const d = await mailFrom(p, { ENVID: 'e2@h.test', MTRK: B })
  await receive(p, d, 'pm@h.test', '', ['carol@far.test'])
  await receive(p, d, 'carol@far.test', '', ['carol@far.test'])
  assert.deepEqual((d.transaction.notes.mtrk as TrackingNote).rcpts, {
    'pm@h.test': { orcpt: null, notify: null, delivered: 'pm@h.test' },
  })
})
