// The DSN hooks under haraka-test-fixtures (no Haraka process): what they answer Haraka, whatever happens. The
// reports themselves are tested end to end in test/dsn/reports.test.ts.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import * as constants from 'haraka-constants'
import { callHook } from 'haraka-test-fixtures'
import type { HMailItem, OutboundRecipient } from '../../src/haraka/types'
import type { MtrkPlugin } from '../../src/plugin/state'
import { fixturePlugin } from '../helpers/fixtures'
import { Address } from '../helpers/haraka'
import { waitFor } from '../helpers/ports'

function plugin(dsn: Record<string, unknown> = {}) {
  const p = fixturePlugin() as ReturnType<typeof fixturePlugin> & MtrkPlugin
  const errors: string[] = []
  p.logerror = (m: unknown) => void errors.push(String(m))
  assert.ok(p.mtrk)
  Object.assign(p.mtrk.config.dsn, { coalesceMs: 20, ...dsn })
  return { p, errors }
}

function queued(from: string, notify: string | null, extra: Record<string, unknown> = {}): HMailItem {
  const rcpt = new Address('<u@far.test>')
  const log = () => {}
  return {
    todo: {
      uuid: 'CONN.1.1',
      domain: 'far.test',
      queue_time: Date.now() - 1000,
      mail_from: new Address(from),
      rcpt_to: [rcpt],
      notes: {
        mtrk: {
          v: 1,
          envid: null,
          ret: 'FULL',
          track: null,
          arrival: null,
          rcpts: { 'u@far.test': { orcpt: null, notify } },
        },
        ...extra,
      },
    },
    num_failures: 1,
    data_stream: () => Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]),
    file_size: 100,
    data_start: 80,
    filename: '1_2_0_3_UID_4_host',
    logdebug: log,
    loginfo: log,
    lognotice: log,
    logwarn: log,
    logerror: log,
  }
}

const refused = (rcpts: OutboundRecipient[]) =>
  Object.assign(new Error('Some recipients failed'), {
    mx: { exchange: 'mx.far.test' },
    bounced_rcpt: rcpts.map((r) =>
      Object.assign(r, { dsn_smtp_code: '550', dsn_smtp_extc: '5.1.1', dsn_smtp_response: 'no such user' }),
    ),
  })

test("bounce, NOTIFY=NEVER: Haraka's bounce is suppressed (OK) and nothing is sent (RFC 3461 §5.2.6(b))", async () => {
  const { p, errors } = plugin()
  const h = queued('<s@h.test>', 'NEVER')
  const r = await callHook(p, 'dsn_bounce', h, refused(h.todo.rcpt_to))
  assert.equal(r.rc, constants.ok)
  assert.deepEqual(errors, [])
})

test("RFC 3461 §5.2.7.4, MTRK-22: no report names where a final alias led; Haraka's bounce suppressed too (OK)", async () => {
  const { p, errors } = plugin()
  const infos: string[] = []
  const h = Object.assign(queued('<s@h.test>', null), {
    loginfo: (_p: unknown, m: unknown) => void infos.push(String(m)),
  })
  const note = h.todo.notes.mtrk as { rcpts: Record<string, unknown> }
  note.rcpts = {
    'pm@h.test': { orcpt: null, notify: 'SUCCESS,FAILURE', delivered: 'pm@h.test' },
    'u@far.test': { orcpt: null, notify: null, memberOf: 'pm@h.test' },
  }
  const r = await callHook(p, 'dsn_bounce', h, refused(h.todo.rcpt_to))
  assert.equal(r.rc, constants.ok)
  assert.deepEqual(errors, [], 'no report was even attempted')
  assert.deepEqual(infos, [
    'no failed report about <u@far.test>: a final alias led there ([main] final_aliases, RFC 3461 §5.2.7.4)',
  ])
})

test('RFC 3461 §5.2.7.4, TSN-25: no delay report names where a final alias led, though its NOTIFY would want one', async () => {
  const { p, errors } = plugin({ delayReportAfter: 0 })
  const infos: string[] = []
  const h = Object.assign(queued('<s@h.test>', null), {
    loginfo: (_p: unknown, m: unknown) => void infos.push(String(m)),
  })
  const note = h.todo.notes.mtrk as { rcpts: Record<string, unknown> }
  note.rcpts = {
    'pm@h.test': { orcpt: null, notify: 'SUCCESS,FAILURE,DELAY', delivered: 'pm@h.test' },
    'u@far.test': { orcpt: null, notify: null, memberOf: 'pm@h.test' },
  }
  const r = await callHook(p, 'dsn_deferred', h, { delay: 64, err: 'Tried all MXs' })
  assert.equal(r.rc, undefined)
  assert.deepEqual(errors, [], 'no report was even attempted')
  assert.equal(h.todo.notes.mtrk_delay_report, undefined, 'no report due, no state kept')
  assert.deepEqual(infos, [
    'no delayed report about <u@far.test>: a final alias led there ([main] final_aliases, RFC 3461 §5.2.7.4)',
  ])
})

test('bounce of a bounce (MAIL FROM:<>): left to Haraka (CONT), which logs its double bounce and sends nothing', async () => {
  const { p } = plugin()
  const h = queued('<>', null)
  const r = await callHook(p, 'dsn_bounce', h, refused(h.todo.rcpt_to))
  assert.equal(r.rc, undefined)
})

test("a report that cannot be queued: logged, and Haraka's own bounce goes out (CONT): the sender still hears", async () => {
  // haraka-test-fixtures cannot resolve Haraka's outbound module: queueing fails as a full queue would.
  const { p, errors } = plugin()
  const h = queued('<s@h.test>', 'FAILURE')
  const r = await callHook(p, 'dsn_bounce', h, refused(h.todo.rcpt_to))
  assert.equal(r.rc, undefined)
  assert.equal(errors.length, 1, errors.join('\n'))
  assert.match(
    errors[0] ?? '',
    /^DSN for CONN\.1 to <s@h\.test> could not be queued: .* \(<u@far\.test> failed 5\.1\.1\)$/,
  )
})

test('a bounce callback that throws is logged, never an unhandled rejection (HRK-11), whichever path answers', async () => {
  const { p } = plugin()
  const logged: string[] = []
  const h = Object.assign(queued('<s@h.test>', 'FAILURE'), {
    logerror: (_p: unknown, m: unknown) => logged.push(String(m)),
  })
  const throwing = () => {
    throw new Error('boom in Haraka')
  }
  // Answered from the report's callback, after the coalescing window (queueing fails under the fixtures).
  await (p as unknown as { dsn_bounce: (...a: unknown[]) => Promise<void> }).dsn_bounce(
    throwing,
    h,
    refused(h.todo.rcpt_to),
  )
  await waitFor(() => logged.length > 0, 5000, 'the callback error logged')
  assert.match(logged[0] ?? '', /bounce callback threw: Error: boom in Haraka/)
})

test('deferred: always CONT (anything else deletes the mail); the delay report time is kept only when one is due', async () => {
  const later = plugin()
  const h1 = queued('<s@h.test>', null)
  const r1 = await callHook(later.p, 'dsn_deferred', h1, { delay: 64, err: 'Tried all MXs' })
  assert.equal(r1.rc, undefined)
  assert.equal(h1.todo.notes.mtrk_delay_report, undefined, 'not 4 hours in the queue yet')

  const now = plugin({ delayReportAfter: 0 })
  const h2 = queued('<s@h.test>', 'DELAY')
  const r2 = await callHook(now.p, 'dsn_deferred', h2, { delay: 64, err: 'Tried all MXs' })
  assert.equal(r2.rc, undefined)
  assert.equal(typeof h2.todo.notes.mtrk_delay_report, 'number')

  const never = plugin({ delayReportAfter: 0 })
  const h3 = queued('<s@h.test>', 'FAILURE')
  await callHook(never.p, 'dsn_deferred', h3, { delay: 64, err: 'Tried all MXs' })
  assert.equal(h3.todo.notes.mtrk_delay_report, undefined, 'NOTIFY without DELAY: no report, no state')
})

test('AMB-44: after a restart (no remembered report time) the queue file name stands in: no extra delay report', async () => {
  const interval = 3600
  const { p } = plugin({ delayReportAfter: 0, delayReportInterval: interval })
  // The third attempt: the second deferral set next_attempt to its own time plus the second interval (128 s).
  const queuedAt = Date.now() - 2 * interval * 1000
  const third = (nextAttempt: number) => {
    const h = Object.assign(queued('<s@h.test>', 'DELAY'), {
      num_failures: 3,
      filename: `${queuedAt}_${nextAttempt}_2_3_UID_4_host`,
    })
    h.todo.queue_time = queuedAt
    return h
  }
  const soon = third(Date.now() - 1000)
  assert.equal((await callHook(p, 'dsn_deferred', soon, { delay: 256, err: 'Tried all MXs' })).rc, undefined)
  assert.equal(
    soon.todo.notes.mtrk_delay_report,
    undefined,
    'a report may have gone at the previous deferral',
  )
  const long = third(Date.now() - interval * 1000)
  await callHook(p, 'dsn_deferred', long, { delay: 256, err: 'Tried all MXs' })
  assert.equal(typeof long.todo.notes.mtrk_delay_report, 'number', 'an interval since the previous deferral')
})

test('a broken hmail never throws into Haraka: deferred continues, bounce falls back to CONT', async () => {
  const { p } = plugin()
  const broken = { todo: null, logerror: () => {} } as unknown as HMailItem
  assert.equal((await callHook(p, 'dsn_deferred', broken, { delay: 64, err: 'x' })).rc, undefined)
  assert.equal((await callHook(p, 'dsn_bounce', broken, new Error('x'))).rc, undefined)
  assert.equal((await callHook(p, 'dsn_delivered', broken, [])).rc, undefined)
})

// Under haraka-test-fixtures a report cannot be queued, and the error names what it would have said: enough to see
// each decision of the delivered hook.
const delivered = (mode: 'SMTP' | 'LMTP', h: HMailItem) => [
  'mx.far.test',
  '192.0.2.1',
  'queued',
  1,
  25,
  mode,
  h.todo.rcpt_to,
  false,
  false,
]

async function decided(
  dsn: Record<string, unknown>,
  mode: 'SMTP' | 'LMTP',
  notify: string | null,
  extra: Record<string, unknown> = {},
): Promise<string[]> {
  const { p, errors } = plugin(dsn)
  const h = queued('<s@h.test>', notify, extra)
  const r = await callHook(p, 'dsn_delivered', h, delivered(mode, h))
  assert.equal(r.rc, undefined)
  // A report shows up within the 20 ms window; none is a bounded wait.
  await waitFor(() => errors.length > 0, 1000, 'a report').catch(() => {})
  return errors.map((e) => /\((.*)\)$/.exec(e)?.[1] ?? e)
}

test('delivered: LMTP is final delivery, SMTP to a hop that did not get NOTIFY is relayed (DSN-11)', async () => {
  assert.deepEqual(await decided({}, 'LMTP', 'SUCCESS'), ['<u@far.test> delivered 2.5.0'])
  assert.deepEqual(await decided({}, 'SMTP', 'SUCCESS,FAILURE'), ['<u@far.test> relayed 2.1.9'])
  assert.deepEqual(await decided({}, 'SMTP', 'FAILURE'), [])
  assert.deepEqual(await decided({}, 'SMTP', null), [], 'RFC 3461 §5.2.3(c)')
  assert.deepEqual(await decided({ enabled: false }, 'SMTP', 'SUCCESS'), [])
})

test('backscatter policy relay_clients: success reports only for mail from clients allowed to relay', async () => {
  const strict = { successDelayReports: 'relay_clients' }
  assert.deepEqual(await decided(strict, 'SMTP', 'SUCCESS'), [])
  assert.deepEqual(await decided(strict, 'SMTP', 'SUCCESS', { mtrk_relay_client: true }), [
    '<u@far.test> relayed 2.1.9',
  ])
})
