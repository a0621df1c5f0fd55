import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type AttemptFailure, diagnosticCode, failureStatus, replyInReason } from '../../src/dsn/status'
import { isStrictStatusCode } from '../../src/tsn/syntax'

const reason = (text: string, temporary = false): AttemptFailure => ({ temporary, reply: null, reason: text })
const reply = (code: number, text: string, temporary = code < 500): AttemptFailure => ({
  temporary,
  reply: { code, text },
  reason: null,
})

test("Haraka's own reasons each get their RFC 3463 code, never x.0.0 (issue 9)", () => {
  const table: [AttemptFailure, string][] = [
    [reason('No Such Domain: nx.test'), '5.1.2'],
    [reason('No MX for nomx.test'), '5.4.4'],
    [reason('Nowhere to deliver mail to for domain: nomx.test'), '5.4.4'],
    [reason('Domain null.test sends and receives no email (NULL MX)'), '5.1.10'],
    [reason('DNS lookup failure: Error: queryMx ETIMEOUT slow.test', true), '4.4.3'],
    [reason('Temporary MX lookup error for slow.test', true), '4.4.3'],
    [reason('Tried all MXs', true), '4.4.1'],
    [reason('connect ECONNREFUSED 127.0.0.1:25', true), '4.4.1'],
    [reason('socket timeout waiting on rcpt', true), '4.4.2'],
    [reason('No TLS available but required by configuration.', true), '4.7.4'],
    [reason('Host failed TLS verification required by configuration.', true), '4.7.5'],
    [reason('Too many failures (Tried all MXs)'), '5.4.1'],
    [reason('Too many failures (Host failed TLS verification required by configuration.)'), '5.7.5'],
    [reason('Error re-queueing email: ENOSPC', true), '4.3.0'],
  ]
  for (const [f, status] of table) assert.equal(failureStatus(f), status, String(f.reason))
})

test('a remote reply: its enhanced code, else its reply code read as RFC 5321 means it', () => {
  assert.equal(failureStatus(reply(550, '5.1.1 No such user')), '5.1.1')
  assert.equal(failureStatus(reply(450, '4.2.1 Mailbox busy')), '4.2.1')
  assert.equal(failureStatus(reply(550, 'No such user')), '5.2.0')
  assert.equal(failureStatus(reply(552, 'Mailbox full')), '5.2.2')
  assert.equal(failureStatus(reply(553, 'Not allowed')), '5.1.3')
  assert.equal(failureStatus(reply(421, 'closing')), '4.3.2')
  assert.equal(failureStatus(reply(451, 'try later')), '4.3.0')
  assert.equal(failureStatus(reply(554, 'Transaction failed')), '5.0.0')
  // Out of retries on a 4xx: class 5, detail kept.
  assert.equal(failureStatus(reply(450, '4.2.1 busy', false)), '5.2.1')
  assert.equal(failureStatus(reply(450, 'busy', false)), '5.2.0')
})

test('a reply Haraka folded into its reason is read from there', () => {
  assert.deepEqual(replyInReason('Upstream error: 451 4.3.0 try later'), {
    code: 451,
    text: '4.3.0 try later',
  })
  assert.deepEqual(replyInReason('Too many failures (Upstream error: 421 bye)'), { code: 421, text: 'bye' })
  assert.equal(failureStatus(reason('Upstream error: 451 4.7.1 greylisted', true)), '4.7.1')
  assert.equal(replyInReason('Tried all MXs'), null)
})

test('nothing known: x.0.0 of the right class (RFC 3461 §6.3(g))', () => {
  assert.equal(failureStatus({ temporary: true, reply: null, reason: null }), '4.0.0')
  assert.equal(failureStatus(reason('something new')), '5.0.0')
})

test('property: always a strict status code of the class the queue decided', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.option(fc.record({ code: fc.integer({ min: 400, max: 599 }), text: fc.string() }), { nil: null }),
      fc.option(fc.string(), { nil: null }),
      (temporary, r, why) => {
        const s = failureStatus({ temporary, reply: r, reason: why })
        assert.ok(isStrictStatusCode(s), s)
        assert.equal(s[0], temporary ? '4' : '5')
      },
    ),
  )
})

test('Diagnostic-Code: smtp for a reply, X-Haraka for our own reason, one printable line', () => {
  assert.equal(
    diagnosticCode({ code: 550, text: '5.1.1 No such\r\nuser\u00e9' }, null),
    'smtp; 550 5.1.1 No such user',
  )
  assert.equal(diagnosticCode(null, 'Tried all MXs'), 'X-Haraka; Tried all MXs')
  assert.equal(diagnosticCode(null, null), null)
  assert.equal(diagnosticCode(null, ' \u0000 '), null)
  fc.assert(
    fc.property(fc.integer({ min: 200, max: 599 }), fc.string({ maxLength: 2000 }), (code, text) => {
      const d = diagnosticCode({ code, text }, null)!
      assert.match(d, /^smtp; \d{3}[\x20-\x7e]*$/)
      assert.ok(d.length <= 998 - 'Diagnostic-Code: '.length)
    }),
  )
})
