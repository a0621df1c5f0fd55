import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatGreeting, type Greeting, greetingResponse, parseGreeting } from '../../src/mtqp/greeting'
import { type MtqpResponse, parseResponse, ResponseDecoder } from '../../src/mtqp/response'
import { feedThreeWays } from '../helpers/chunking'

/** Decode a wire greeting, then interpret it. */
function greet(wire: string) {
  const r = parseResponse(wire)
  assert.ok(r.ok, r.ok ? '' : r.error)
  return parseGreeting(r.value)
}

function okGreeting(wire: string): Greeting {
  const g = greet(wire)
  assert.ok(g.ok, g.ok ? '' : g.error.reason)
  return g.value
}

test('MTQP-10 / AMB-27: no options gives the single-line +OK/MTQP greeting (RFC 3887 example #1)', () => {
  assert.deepStrictEqual(formatGreeting({ options: [] }), {
    ok: true,
    value: '+OK/MTQP MTQP server ready\r\n',
  })
  assert.deepStrictEqual(greetingResponse({ options: [], text: 'hi' }), {
    indicator: '+OK',
    codes: ['MTQP'],
    text: 'hi',
  })
})

test('MTQP-12/MTQP-13 / AMB-27: options give +OK+/MTQP, one option a line, then "."', () => {
  assert.deepStrictEqual(
    formatGreeting({ options: ['STARTTLS required', 'vnd.org.example.x a b'], text: 'ready' }),
    {
      ok: true,
      value: '+OK+/MTQP ready\r\nSTARTTLS required\r\nvnd.org.example.x a b\r\n.\r\n',
    },
  )
})

test('formatGreeting refuses options that would read back differently (MTQP-12)', () => {
  for (const o of ['', '  ', ' STARTTLS', '\tx', 'a\r\nb', 'caf\u00e9']) {
    assert.equal(formatGreeting({ options: [o] }).ok, false, JSON.stringify(o))
  }
})

test('RFC 3887 example #1 and #4: no options either way (AMB-27: clients accept both)', () => {
  const none = { options: [], starttls: false, starttlsRequired: false, text: 'MTQP server ready' }
  assert.deepStrictEqual(okGreeting('+OK/MTQP MTQP server ready\r\n'), none)
  assert.deepStrictEqual(okGreeting('+OK+/MTQP MTQP server ready\r\n.\r\n'), none)
})

test('RFC 3887 example #5: options, case-insensitive names, continuation lines (MTQP-12)', () => {
  const g = okGreeting(
    '+OK+/MTQP MTQP server ready\r\n' +
      'starttls\r\n' +
      'vnd.com.example.option2 with parameters private to example.com\r\n' +
      'vnd.com.example.option3 with a very long\r\n' +
      ' list of parameters\r\n' +
      '.\r\n',
  )
  assert.deepStrictEqual(g.options, [
    { name: 'starttls', params: [] },
    { name: 'vnd.com.example.option2', params: ['with', 'parameters', 'private', 'to', 'example.com'] },
    { name: 'vnd.com.example.option3', params: ['with', 'a', 'very', 'long', 'list', 'of', 'parameters'] },
  ])
  assert.equal(g.starttls, true)
  assert.equal(g.starttlsRequired, false)
})

test('MTQP-13: STARTTLS required, in any case, also when "required" is on a continuation line', () => {
  for (const body of [
    'STARTTLS required',
    'StartTLS REQUIRED',
    'STARTTLS\r\n\trequired',
    'x\r\nstarttls  Required ',
  ]) {
    const g = okGreeting(`+OK+/MTQP hi\r\n${body}\r\n.\r\n`)
    assert.equal(g.starttls, true, body)
    assert.equal(g.starttlsRequired, true, body)
  }
  const other = okGreeting('+OK+/MTQP hi\r\nvnd.org.example.required required\r\n.\r\n')
  assert.equal(other.starttls, false)
  assert.equal(other.starttlsRequired, false)
})

test('MTQP-24: the post-TLS greeting without STARTTLS reads as starttls false', () => {
  const g = okGreeting('+OK+/MTQP ready\r\nvnd.org.example.x\r\n.\r\n')
  assert.equal(g.starttls, false)
})

test('blank lines are skipped and a leading continuation line is read as an option (lenient)', () => {
  const g = okGreeting('+OK+/MTQP hi\r\n\r\n  starttls\r\n.\r\n')
  assert.deepStrictEqual(g.options, [{ name: 'starttls', params: [] }])
})

test('MTQP-11: negative greetings (RFC 3887 examples #2 and #3) are errors carrying their codes', () => {
  assert.deepStrictEqual(greet('-TEMP/MTQP/admin Service down for admin, call back later\r\n'), {
    ok: false,
    error: {
      reason: 'server refused the session',
      indicator: '-TEMP',
      codes: ['mtqp', 'admin'],
      text: 'Service down for admin, call back later',
      temporary: true,
    },
  })
  const perm = greet('-ERR/MTQP/unavailable Service down\r\n')
  assert.ok(!perm.ok)
  assert.deepStrictEqual(perm.error.codes, ['mtqp', 'unavailable'])
  assert.equal(perm.error.temporary, false)
})

test('MTQP-10 / MTQPC-2: a positive greeting without /MTQP is an error', () => {
  const g = greet('+OK server ready\r\n')
  assert.ok(!g.ok)
  assert.ok(g.error.reason.includes('/MTQP'))
  // Codes are compared case-insensitively even when the response did not come through the decoder.
  const r: MtqpResponse = { indicator: '+OK', codes: ['Mtqp'], text: '' }
  assert.equal(parseGreeting(r).ok, true)
})

test('formatGreeting → ResponseDecoder → parseGreeting round trip, three ways', () => {
  const wire = formatGreeting({ options: ['STARTTLS required', '.vnd.odd-leading-dot'] })
  assert.ok(wire.ok)
  const out = feedThreeWays(
    () => new ResponseDecoder(),
    wire.value,
    (d) => d.end(),
  )
  assert.equal(out.length, 1)
  assert.ok(out[0]!.ok)
  const g = parseGreeting(out[0]!.value)
  assert.ok(g.ok)
  assert.deepStrictEqual(g.value.options, [
    { name: 'starttls', params: ['required'] },
    { name: '.vnd.odd-leading-dot', params: [] },
  ])
  assert.equal(g.value.starttlsRequired, true)
})
