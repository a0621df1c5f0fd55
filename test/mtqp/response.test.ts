import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  formatDataResponse,
  formatResponse,
  INDICATORS,
  type MtqpResponse,
  parseResponse,
  parseStatusLine,
  ResponseDecoder,
} from '../../src/mtqp/response'
import type { Result } from '../../src/util/result'
import { TV7_LINES } from '../fixtures/tv7'
import { cutAt, feed, feedThreeWays } from '../helpers/chunking'

const dec =
  (opts = {}) =>
  () =>
    new ResponseDecoder(opts)
const end = (d: ResponseDecoder) => d.end()
const fmt = (r: MtqpResponse): string => {
  const w = formatResponse(r)
  assert.ok(w.ok, w.ok ? '' : w.error)
  return w.value
}

test('MTQP-5/MTQP-6: single-line responses, codes directly after the indicator, then SP and text', () => {
  assert.equal(fmt({ indicator: '+OK', codes: [], text: '' }), '+OK\r\n')
  assert.equal(fmt({ indicator: '+OK', codes: [], text: 'bye' }), '+OK bye\r\n')
  assert.equal(
    fmt({ indicator: '-ERR', codes: ['noinfo'], text: 'No information' }),
    '-ERR/noinfo No information\r\n',
  )
  assert.equal(
    fmt({ indicator: '-TEMP', codes: ['MTQP', 'admin'], text: 'down' }),
    '-TEMP/MTQP/admin down\r\n',
  )
  assert.equal(fmt({ indicator: '-BAD', codes: ['tls-in-progress'], text: '' }), '-BAD/tls-in-progress\r\n')
  assert.equal(fmt({ indicator: '-BAD', codes: ['bad_fqdn2'], text: 'x' }), '-BAD/bad_fqdn2 x\r\n')
})

test('AMB-26 / TV-7: a successful TRACK is +OK+ without codes, data lines, then "."', () => {
  const wire = fmt({ indicator: '+OK+', codes: [], text: 'Tracking information follows', lines: TV7_LINES })
  assert.equal(wire, `+OK+ Tracking information follows\r\n${TV7_LINES.map((l) => `${l}\r\n`).join('')}.\r\n`)
})

test('MTQP-7: data lines starting with "." are dot-stuffed; an empty +OK+ is just "." (example #4)', () => {
  const wire = fmt({
    indicator: '+OK+',
    codes: [],
    text: 't',
    lines: ['.', '..x', '.Dot-Stuffed-Header: as an example', 'a.b', ''],
  })
  assert.equal(wire, '+OK+ t\r\n..\r\n...x\r\n..Dot-Stuffed-Header: as an example\r\na.b\r\n\r\n.\r\n')
  assert.equal(
    fmt({ indicator: '+OK+', codes: ['MTQP'], text: 'MTQP server ready' }),
    '+OK+/MTQP MTQP server ready\r\n.\r\n',
  )
})

test('the log text is sanitised: CR/LF/controls to SP, non-ASCII to "?", no leading WSP, cut to 998 octets', () => {
  assert.equal(fmt({ indicator: '-ERR', codes: [], text: 'a\r\nb\x00c' }), '-ERR a  b c\r\n')
  assert.equal(fmt({ indicator: '-ERR', codes: [], text: ' \t caf\u00e9 \u{1f600}' }), '-ERR caf? ??\r\n')
  const long = fmt({ indicator: '-TEMP', codes: ['unavailable'], text: 'x'.repeat(2000) })
  assert.equal(long.length, 998 + 2)
  assert.ok(long.startsWith('-TEMP/unavailable xxx'))
})

test('MTQP-5: data lines up to 998 octets on the wire; longer ones are refused, not split', () => {
  assert.ok(formatResponse({ indicator: '+OK+', codes: [], text: '', lines: ['x'.repeat(998)] }).ok)
  assert.ok(formatResponse({ indicator: '+OK+', codes: [], text: '', lines: [`.${'x'.repeat(996)}`] }).ok)
  // The stuffed "." counts: 998 characters starting with "." are 999 on the wire.
  const stuffed = formatResponse({ indicator: '+OK+', codes: [], text: '', lines: [`.${'x'.repeat(997)}`] })
  assert.equal(stuffed.ok, false)
  assert.ok(!stuffed.ok && stuffed.error.includes('999 octets'))
  assert.equal(formatResponse({ indicator: '+OK+', codes: [], text: '', lines: ['x'.repeat(999)] }).ok, false)
})

test('formatResponse refuses caller bugs instead of sending a broken response', () => {
  const bad: MtqpResponse[] = [
    { indicator: '+OK+', codes: [], text: '', lines: ['a\r\nb'] },
    { indicator: '+OK+', codes: [], text: '', lines: ['a\nb'] },
    { indicator: '+OK+', codes: [], text: '', lines: ['a\rb'] },
    { indicator: '+OK+', codes: [], text: '', lines: ['\u0100'] },
    { indicator: '+OK', codes: [], text: '', lines: [] },
    { indicator: '-ERR', codes: [''], text: '' },
    { indicator: '-ERR', codes: ['no info'], text: '' },
    { indicator: '-ERR', codes: ['a/b'], text: '' },
    { indicator: '-ERR', codes: ['x'.repeat(995)], text: '' },
    { indicator: '+ok' as '+OK', codes: [], text: '' },
  ]
  for (const r of bad) assert.equal(formatResponse(r).ok, false, JSON.stringify(r))
})

test('parseStatusLine is lenient: indicator and codes in any case, codes lower-cased, odd code characters', () => {
  const cases: [string, Result<unknown>][] = [
    ['+OK', { ok: true, value: { indicator: '+OK', codes: [], text: '' } }],
    [
      '+ok/NOINFO  two  spaces ',
      { ok: true, value: { indicator: '+OK', codes: ['noinfo'], text: 'two  spaces ' } },
    ],
    ['+Ok+/MTQP', { ok: true, value: { indicator: '+OK+', codes: ['mtqp'], text: '' } }],
    [
      '-TEMP/MTQP/Admin\tlater',
      { ok: true, value: { indicator: '-TEMP', codes: ['mtqp', 'admin'], text: 'later' } },
    ],
    ['-err//x.y/', { ok: true, value: { indicator: '-ERR', codes: ['x.y'], text: '' } }],
    ['-BAD ', { ok: true, value: { indicator: '-BAD', codes: [], text: '' } }],
  ]
  for (const [line, want] of cases) assert.deepStrictEqual(parseStatusLine(line), want, line)
  for (const line of ['', 'OK', '+OKAY', '+OK+x', '-ERRx', ' +OK', '+', '250 OK']) {
    assert.equal(parseStatusLine(line).ok, false, JSON.stringify(line))
  }
  // A NUL is not WSP, so it belongs to the code, not to the text: still a status line (lenient).
  assert.deepStrictEqual(parseStatusLine('+OK+/MTQP\x00'), {
    ok: true,
    value: { indicator: '+OK+', codes: ['mtqp\x00'], text: '' },
  })
})

test('MTQP-7/MTQP-9: pipelined responses including RFC example #8 dot-stuffing decode the same three ways', () => {
  const wire =
    '+OK/MTQP MTQP server ready\r\n' +
    '+OK+ Tracking information follows\r\n' +
    'Content-Type: multipart/related; boundary=%%%%; type=tracking-status\r\n' +
    '..Dot-Stuffed-Header: as an example\r\n' +
    '\r\n' +
    '--%%%%--\r\n' +
    '.\r\n' +
    '-ERR/noinfo No information\r\n' +
    '+OK+ empty\r\n.\r\n' +
    '+OK bye\r\n'
  const out = feedThreeWays(dec(), wire, end)
  assert.deepStrictEqual(out, [
    { ok: true, value: { indicator: '+OK', codes: ['mtqp'], text: 'MTQP server ready' } },
    {
      ok: true,
      value: {
        indicator: '+OK+',
        codes: [],
        text: 'Tracking information follows',
        lines: [
          'Content-Type: multipart/related; boundary=%%%%; type=tracking-status',
          '.Dot-Stuffed-Header: as an example',
          '',
          '--%%%%--',
        ],
      },
    },
    { ok: true, value: { indicator: '-ERR', codes: ['noinfo'], text: 'No information' } },
    { ok: true, value: { indicator: '+OK+', codes: [], text: 'empty', lines: [] } },
    { ok: true, value: { indicator: '+OK', codes: [], text: 'bye' } },
  ])
})

test('TV-7: the formatted TRACK reply decodes back three ways, with lenient bare-LF endings too', () => {
  const r: MtqpResponse = {
    indicator: '+OK+',
    codes: [],
    text: 'Tracking information follows',
    lines: TV7_LINES,
  }
  assert.deepStrictEqual(feedThreeWays(dec(), fmt(r), end), [{ ok: true, value: r }])
  assert.deepStrictEqual(feedThreeWays(dec(), fmt(r).replaceAll('\r\n', '\n'), end), [{ ok: true, value: r }])
})

test('a malformed status line is one error and does not lose sync (three ways)', () => {
  const out = feedThreeWays(dec(), 'HELLO\r\n+OK fine\r\n\r\n+OKAY\r\n-BAD/x no\r\n', end)
  assert.equal(out.length, 5)
  assert.equal(out[0]!.ok, false)
  assert.deepStrictEqual(out[1], { ok: true, value: { indicator: '+OK', codes: [], text: 'fine' } })
  assert.equal(out[2]!.ok, false)
  assert.equal(out[3]!.ok, false)
  assert.deepStrictEqual(out[4], { ok: true, value: { indicator: '-BAD', codes: ['x'], text: 'no' } })
})

test('MTQP-5: overlong lines damage exactly one response and sync is kept (three ways)', () => {
  const longData = `+OK+ t\r\nok line\r\n${'d'.repeat(1200)}\r\nmore\r\n.\r\n+OK after\r\n`
  const out1 = feedThreeWays(dec(), longData, end)
  assert.equal(out1.length, 2)
  assert.ok(!out1[0]!.ok && out1[0]!.error.includes('overlong data line'))
  assert.deepStrictEqual(out1[1], { ok: true, value: { indicator: '+OK', codes: [], text: 'after' } })

  // An overlong +OK+ status line still opens a block, so its data and "." are not misread as status lines.
  const longStatus = `+OK+ ${'s'.repeat(1200)}\r\n+OK not a status\r\n.\r\n-ERR/noinfo x\r\n`
  const out2 = feedThreeWays(dec(), longStatus, end)
  assert.equal(out2.length, 2)
  assert.ok(!out2[0]!.ok && out2[0]!.error.includes('overlong status line'))
  assert.deepStrictEqual(out2[1], { ok: true, value: { indicator: '-ERR', codes: ['noinfo'], text: 'x' } })

  const longSingle = `-ERR ${'e'.repeat(1200)}\r\n+OK\r\n`
  const out3 = feedThreeWays(dec(), longSingle, end)
  assert.equal(out3.length, 2)
  assert.equal(out3[0]!.ok, false)
  assert.deepStrictEqual(out3[1], { ok: true, value: { indicator: '+OK', codes: [], text: '' } })
})

test('maxResponseOctets bounds a +OK+ block: one error at its ".", then sync', () => {
  const wire = `+OK+ big\r\n${'0123456789\r\n'.repeat(20)}.\r\n+OK\r\n`
  const out = feedThreeWays(dec({ maxResponseOctets: 100 }), wire, end)
  assert.equal(out.length, 2)
  assert.ok(!out[0]!.ok && out[0]!.error.includes('exceeds 100'))
  assert.equal(out[1]!.ok, true)
})

test('end(): a response cut off by the connection closing is an error; a clean end is not', () => {
  const d = new ResponseDecoder()
  assert.deepStrictEqual(d.push(Buffer.from('+OK+ t\r\nline\r\n')), [])
  assert.ok(d.inResponse)
  assert.deepStrictEqual(d.end(), [{ ok: false, error: 'connection closed in the middle of a response' }])
  assert.deepStrictEqual(d.end(), [])
  d.push(Buffer.from('+OK par'))
  assert.equal(d.bufferedBytes, 7)
  assert.equal(d.end().length, 1)
  assert.deepStrictEqual(d.push(Buffer.from('+OK\r\n')), [
    { ok: true, value: { indicator: '+OK', codes: [], text: '' } },
  ])
  assert.deepStrictEqual(d.end(), [])
})

test('parseResponse takes exactly one whole response', () => {
  assert.deepStrictEqual(parseResponse('+OK bye\r\n'), {
    ok: true,
    value: { indicator: '+OK', codes: [], text: 'bye' },
  })
  assert.equal(parseResponse('+OK\r\n+OK\r\n').ok, false)
  assert.equal(parseResponse('+OK+ x\r\na\r\n').ok, false)
  assert.equal(parseResponse('+OK').ok, false)
  assert.equal(parseResponse('').ok, false)
})

// Bytes that look like MTQP responses, so the decoder's branches are all reached.
const piece = fc.constantFrom(
  '+OK',
  '+OK+',
  '-ERR',
  '-TEMP',
  '-BAD',
  '/',
  'mtqp',
  ' ',
  '\t',
  'x',
  '.',
  '..',
  '\r\n',
  '\n',
  '\r',
  '\x00',
  '\xff',
  'é',
)
const wireArb = fc.oneof(
  fc.array(piece, { maxLength: 40 }).map((p) => Buffer.from(p.join(''), 'latin1')),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
)

test('property: the decoder never throws, and any chunking gives the same results as one whole chunk', () => {
  fc.assert(
    fc.property(wireArb, fc.array(fc.nat(200)), fc.integer({ min: 4, max: 998 }), (bytes, cuts, max) => {
      const opts = { maxLineOctets: max }
      const whole = feed(dec(opts), [bytes], end)
      assert.deepStrictEqual(feed(dec(opts), cutAt(bytes, cuts), end), whole)
    }),
    { numRuns: 2000 },
  )
})

const code = fc.stringMatching(/^[a-z0-9_-]{1,12}$/)
const text = fc.stringMatching(/^([!-~][\t -~]{0,60})?$/)
const dataLine = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }).map((s) => s.replace(/[^\x00-\xff]|[\r\n]/g, '')),
  fc.stringMatching(/^\.{1,3}[ -~]{0,10}$/),
  fc.constant('.'),
  fc.constant(''),
)
const responseArb: fc.Arbitrary<MtqpResponse> = fc
  .record({
    indicator: fc.constantFrom(...INDICATORS),
    codes: fc.array(code, { maxLength: 4 }),
    text,
    lines: fc.array(dataLine, { maxLength: 12 }),
  })
  .map(({ indicator, codes, text, lines }) =>
    indicator === '+OK+' ? { indicator, codes, text, lines } : { indicator, codes, text },
  )

test('property: parseResponse(formatResponse(r)) = r, including data lines starting with "." (MTQP-7)', () => {
  fc.assert(
    fc.property(responseArb, (r) => {
      const wire = formatResponse(r)
      assert.ok(wire.ok)
      assert.deepStrictEqual(parseResponse(wire.value), { ok: true, value: r })
    }),
    { numRuns: 2000 },
  )
})

test('property: formatDataResponse(body) gives the octets and refusals of formatResponse(lines of body)', () => {
  const anyLine = fc.oneof(
    dataLine,
    // CR or LF alone, characters above one octet, lines around the 998-octet limit with and without a dot.
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.replace(/\r\n/g, '\r')),
    fc
      .tuple(fc.constantFrom('', '.'), fc.integer({ min: 996, max: 999 }))
      .map(([dot, n]) => dot + 'x'.repeat(n)),
  )
  fc.assert(
    fc.property(
      fc.array(code, { maxLength: 2 }),
      text,
      fc.array(anyLine, { maxLength: 8 }),
      (codes, t, lines) => {
        const status = { indicator: '+OK+' as const, codes, text: t }
        const whole = formatDataResponse(status, lines.map((l) => `${l}\r\n`).join(''))
        const each = formatResponse({ ...status, lines })
        assert.equal(whole.ok, each.ok)
        if (whole.ok && each.ok) assert.equal(whole.value, each.value)
      },
    ),
    { numRuns: 2000 },
  )
  assert.equal(formatDataResponse({ indicator: '+OK', codes: [], text: '' }, 'a\r\n').ok, false)
  assert.equal(formatDataResponse({ indicator: '+OK+', codes: [], text: '' }, 'no CRLF').ok, false)
})

test('property: a pipelined series of formatted responses decodes in order under any chunking', () => {
  fc.assert(
    fc.property(fc.array(responseArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(2000)), (rs, cuts) => {
      const wire = Buffer.from(rs.map((r) => fmt(r)).join(''), 'latin1')
      const out = feed(dec(), cutAt(wire, cuts), end)
      assert.deepStrictEqual(
        out,
        rs.map((r) => ({ ok: true, value: r })),
      )
    }),
    { numRuns: 500 },
  )
})
