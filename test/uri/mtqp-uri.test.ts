import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  formatMtqpUri,
  MTQP_DEFAULT_PORT,
  type MtqpUri,
  parseMtqpUri,
  redactMtqpUri,
} from '../../src/uri/mtqp-uri'
import { encodeBase64 } from '../../src/util/base64'

const TV1 = 'AAECAwQFBgcICQoLDA0ODw'

test('URI-1: host only, and host:port; no port means the caller uses 1038 (AMB-31)', () => {
  assert.deepStrictEqual(parseMtqpUri(`mtqp://mtqp.example.com/track/1@h.example.com/${TV1}`), {
    ok: true,
    value: { host: 'mtqp.example.com', envid: '1@h.example.com', secret: TV1 },
  })
  assert.deepStrictEqual(parseMtqpUri(`mtqp://mtqp.example.com:11038/track/1@h.example.com/${TV1}`), {
    ok: true,
    value: { host: 'mtqp.example.com', port: 11038, envid: '1@h.example.com', secret: TV1 },
  })
  assert.equal(MTQP_DEFAULT_PORT, 1038)
})

test('URI-1: IPv4, bracketed IPv6 (returned without brackets), single-label hosts', () => {
  const cases: [string, string, number | undefined][] = [
    ['192.0.2.7', '192.0.2.7', undefined],
    ['192.0.2.7:1', '192.0.2.7', 1],
    ['[::1]', '::1', undefined],
    ['[2001:db8::42]:65535', '2001:db8::42', 65535],
    ['[::ffff:192.0.2.1]', '::ffff:192.0.2.1', undefined],
    ['localhost:1038', 'localhost', 1038],
  ]
  for (const [authority, host, port] of cases) {
    const r = parseMtqpUri(`mtqp://${authority}/track/a@b/${TV1}`)
    assert.ok(r.ok, authority)
    assert.equal(r.value.host, host)
    assert.equal(r.value.port, port)
    assert.equal('port' in r.value, port !== undefined)
  }
})

test('URI-2: scheme and /track/ are case-insensitive; envid and secret keep their case', () => {
  const r = parseMtqpUri(`MTQP://Mtqp.Example.COM/TRACK/AbC@H.Example.com/${TV1}`)
  assert.deepStrictEqual(r, {
    ok: true,
    value: { host: 'Mtqp.Example.COM', envid: 'AbC@H.Example.com', secret: TV1 },
  })
  assert.ok(parseMtqpUri(`mtqp://h/TrAcK/a@b/${TV1}`).ok)
})

test('URI-3: %2F in the secret (TV-1 certifier-like value), any %XX decoded, "+" left alone', () => {
  const r = parseMtqpUri('mtqp://h.example/track/user+2Btag@example.com/VheLhqV%2FrCKJmplkGFwsyW59pYk')
  assert.deepStrictEqual(r, {
    ok: true,
    value: { host: 'h.example', envid: 'user+2Btag@example.com', secret: 'VheLhqV/rCKJmplkGFwsyW59pYk' },
  })
  assert.equal(parseMtqpUri('mtqp://h/track/a@b/VheLhqV%2frCKJmplkGFwsyW59pYk').ok, true) // lower-case hex
  const enc = parseMtqpUri('mtqp://h/track/a%2Fb%3Fc%25d%2B41%40@x/QUJD')
  assert.ok(enc.ok)
  assert.equal(enc.value.envid, 'a/b?c%d+41@@x')
  // Padded secrets are fine raw ("=" is allowed in a path segment) or escaped.
  assert.equal(parseMtqpUri(`mtqp://h/track/a@b/${TV1}==`).ok, true)
  assert.equal(parseMtqpUri(`mtqp://h/track/a@b/${TV1}%3D%3D`).ok, true)
  // Characters RFC 3986 would escape are accepted raw from lenient generators.
  const raw = parseMtqpUri('mtqp://h/track/<12345-20010101@example.com>/YWJjZGVmZ2gK')
  assert.ok(raw.ok)
  assert.equal(raw.value.envid, '<12345-20010101@example.com>')
})

test('URI table: malformed mtqp URIs are refused', () => {
  const bad = [
    '',
    `http://h/track/a@b/${TV1}`,
    `mtqp:/h/track/a@b/${TV1}`,
    'mtqp://h',
    'mtqp://h/',
    `mtqp://h/tracking/a@b/${TV1}`,
    `mtqp://h/track/a@b`,
    `mtqp://h/track/a@b/`,
    `mtqp://h/track//${TV1}`,
    `mtqp://h/track/a@b/${TV1}/`,
    `mtqp://h/track/a@b/c/${TV1}`,
    `mtqp://h/track/a@b/${TV1}?x=1`,
    `mtqp://h/track/a@b/${TV1}#frag`,
    `mtqp://h/track/a?b@c/${TV1}`,
    `mtqp://user@h/track/a@b/${TV1}`,
    `mtqp://bank.example@evil.example/track/a@b/${TV1}`,
    `mtqp:///track/a@b/${TV1}`,
    `mtqp://h:/track/a@b/${TV1}`,
    `mtqp://h:0/track/a@b/${TV1}`,
    `mtqp://h:65536/track/a@b/${TV1}`,
    `mtqp://h:123456/track/a@b/${TV1}`,
    `mtqp://h:port/track/a@b/${TV1}`,
    `mtqp://h:1:2/track/a@b/${TV1}`,
    `mtqp://[::1/track/a@b/${TV1}`,
    `mtqp://[::g]/track/a@b/${TV1}`,
    `mtqp://[fe80::1%25eth0]/track/a@b/${TV1}`,
    `mtqp://[::1]x/track/a@b/${TV1}`,
    `mtqp://192.0.2.1]/track/a@b/${TV1}`,
    `mtqp://::1/track/a@b/${TV1}`,
    `mtqp://999.1.1.1/track/a@b/${TV1}`,
    `mtqp://h_x.example/track/a@b/${TV1}`,
    `mtqp://h.example./track/a@b/${TV1}`,
    `mtqp://h%41/track/a@b/${TV1}`,
    `mtqp://h/track/noat/${TV1}`,
    `mtqp://h/track/a=b@c/${TV1}`,
    `mtqp://h/track/a%3Db@c/${TV1}`,
    `mtqp://h/track/a b@c/${TV1}`,
    `mtqp://h/track/a%20b@c/${TV1}`,
    `mtqp://h/track/caf\u00e9@c/${TV1}`,
    `mtqp://h/track/a%@c/${TV1}`,
    `mtqp://h/track/a%4@c/${TV1}`,
    `mtqp://h/track/a%zz@c/${TV1}`,
    'mtqp://h/track/a@b/QUJD=',
    'mtqp://h/track/a@b/QR==',
    'mtqp://h/track/a@b/QU%2DD',
  ]
  for (const s of bad) assert.equal(parseMtqpUri(s).ok, false, s)
})

test('URI-5: parse errors never contain the secret', () => {
  const secret = 'c2VjcmV0c2VjcmV0c2VjcmV0'
  for (const s of [
    `mtqp://h/track/a@b/${secret}?q`,
    `mtqp://h:0/track/a@b/${secret}`,
    `mtqp://h/track/noat/${secret}`,
    `mtqp://h/track/a@b/${secret}=`,
    `mtqp://h/tracking/a@b/${secret}`,
  ]) {
    const r = parseMtqpUri(s)
    assert.ok(!r.ok)
    assert.ok(!r.error.includes(secret), r.error)
  }
})

test('URI-3: the generator escapes exactly "/", "?", "%" and what RFC 3986 forbids, never "+" or "="', () => {
  assert.deepStrictEqual(
    formatMtqpUri({
      host: 'mtqp.example.com',
      envid: '1@h.example.com',
      secret: 'VheLhqV/rCKJmplkGFwsyW59pYk=',
    }),
    { ok: true, value: 'mtqp://mtqp.example.com/track/1@h.example.com/VheLhqV%2FrCKJmplkGFwsyW59pYk=' },
  )
  assert.deepStrictEqual(
    formatMtqpUri({
      host: '2001:db8::1',
      port: 1039,
      envid: 'a/b?c%d#e+2Bf<g>"[]{}|\\^`@x.y',
      secret: '+/+/',
    }),
    {
      ok: true,
      value:
        'mtqp://[2001:db8::1]:1039/track/a%2Fb%3Fc%25d%23e+2Bf%3Cg%3E%22%5B%5D%7B%7D%7C%5C%5E%60@x.y/+%2F+%2F',
    },
  )
  assert.deepStrictEqual(formatMtqpUri({ host: '192.0.2.1', envid: "!$&'()*,;:~._-@x", secret: 'QUJD' }), {
    ok: true,
    value: "mtqp://192.0.2.1/track/!$&'()*,;:~._-@x/QUJD",
  })
})

test('formatMtqpUri refuses parts that could not be parsed back', () => {
  const good: MtqpUri = { host: 'h.example', envid: 'a@b', secret: 'QUJD' }
  const bad: MtqpUri[] = [
    { ...good, host: '' },
    { ...good, host: 'h_x' },
    { ...good, host: '[::1]' },
    { ...good, host: 'fe80::1%eth0' },
    { ...good, host: '1.2.3' },
    { ...good, host: 'user@h' },
    { ...good, port: 0 },
    { ...good, port: 65536 },
    { ...good, port: 10.5 },
    { ...good, envid: 'nope' },
    { ...good, envid: 'a b@c' },
    { ...good, secret: '' },
    { ...good, secret: 'QUJD=' },
  ]
  for (const u of bad) assert.equal(formatMtqpUri(u).ok, false, JSON.stringify(u))
})

test('URI-5: redactMtqpUri replaces the secret with *** and hides everything doubtful', () => {
  const cases: [string, string][] = [
    [`mtqp://h.example/track/1@h.example.com/${TV1}`, 'mtqp://h.example/track/1@h.example.com/***'],
    ['MTQP://[::1]:1039/TRACK/a%2Fb@c/VheLhqV%2FrCKJ', 'MTQP://[::1]:1039/TRACK/a%2Fb@c/***'],
    ['mtqp://h/track/a@b/abc/def?x#y', 'mtqp://h/track/a@b/***'],
    ['mtqp://h/track/onlysecret', 'mtqp://h/***'],
    ['mtqp://h/track/a?b@c/secret', 'mtqp://h/***'],
    ['mtqp://user:pass@h/track/a@b/secret', 'mtqp://***@h/track/a@b/***'],
    ['mtqp://h', 'mtqp://h'],
    ['mtqp://h?secret', 'mtqp://h/***'],
    ['not a uri with secret', '***'],
    ['', '***'],
  ]
  for (const [uri, want] of cases) assert.equal(redactMtqpUri(uri), want, uri)
})

// Arbitraries: the whole xtext alphabet in envids (including "/", "?", "%", "#", "+XX"), base64 secrets of random
// octets padded or not, DNS names / IPv4 / IPv6 hosts, optional ports.
const xchar = fc
  .integer({ min: 0x21, max: 0x7e })
  .filter((c) => c !== 0x2b && c !== 0x3d)
  .map((c) => String.fromCharCode(c))
const hexchar = fc
  .integer({ min: 0, max: 255 })
  .map((n) => `+${n.toString(16).toUpperCase().padStart(2, '0')}`)
const special = fc.constantFrom('/', '?', '%', '+2B', '#', '@')
const xtext1 = fc
  .array(fc.oneof(xchar, hexchar, special), { minLength: 1, maxLength: 16 })
  .map((a) => a.join(''))
const envidArb = fc.tuple(xtext1, xtext1).map(([l, f]) => `${l}@${f}`)
const secretArb = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.boolean())
  .map(([a, padding]) => encodeBase64(a, { padding }))
const label = fc
  .stringMatching(/^[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?$/)
  .filter((l) => !/^[0-9]+$/.test(l))
const hostArb = fc.oneof(
  fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.')),
  fc.ipV4(),
  fc.ipV6(),
)
const uriArb: fc.Arbitrary<MtqpUri> = fc
  .record({
    host: hostArb,
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    envid: envidArb,
    secret: secretArb,
  })
  .map(({ host, port, envid, secret }) =>
    port === undefined ? { host, envid, secret } : { host, port, envid, secret },
  )

test('property: parseMtqpUri(formatMtqpUri(x)) = x, including "/", "?", "%", "+" in envid and secret', () => {
  fc.assert(
    fc.property(uriArb, (u) => {
      const s = formatMtqpUri(u)
      assert.ok(s.ok, s.ok ? '' : s.error)
      assert.deepStrictEqual(parseMtqpUri(s.value), { ok: true, value: u })
    }),
    { numRuns: 2000 },
  )
})

test('property: redaction of a generated URI cuts exactly at the secret', () => {
  fc.assert(
    fc.property(uriArb, (u) => {
      const s = formatMtqpUri(u)
      assert.ok(s.ok)
      assert.equal(redactMtqpUri(s.value), `${s.value.slice(0, s.value.lastIndexOf('/') + 1)}***`)
    }),
  )
})

test('property: parseMtqpUri and redactMtqpUri never throw on arbitrary strings', () => {
  const piece = fc.constantFrom(
    'mtqp://',
    'MTQP://',
    '/track/',
    '/',
    '[',
    ']',
    ':',
    '@',
    '%',
    '%2F',
    '?',
    '#',
    'a',
    'h.example',
    '1038',
    'QUJD',
    '=',
    '+',
    ' ',
    '\u00e9',
  )
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.array(piece, { maxLength: 12 }).map((p) => p.join('')),
      ),
      (s) => {
        parseMtqpUri(s)
        redactMtqpUri(s)
      },
    ),
    { numRuns: 3000 },
  )
})
