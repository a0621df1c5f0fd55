// The originator's set-up (RFC 3885 §3, §4.2): secret, certifier, ENVID, MAIL FROM parameters and URI.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import { newTracking } from '../../src/client/new-tracking'
import { isUniqueEnvid } from '../../src/esmtp/envid'
import { parseMailParams, splitCommandParams } from '../../src/esmtp/params'
import { parseMtqpUri } from '../../src/uri/mtqp-uri'
import { decodeBase64Strict } from '../../src/util/base64'

const NOW = Date.UTC(2026, 0, 12, 10, 0, 0)

/** Randomness that hands out the given octets, then zeros. */
function fixedRandom(first: Uint8Array): (n: number) => Uint8Array {
  let calls = 0
  return (n) => (calls++ === 0 ? first.subarray(0, n) : new Uint8Array(n))
}

test('SEC-1 / SEC-2 / AMB-3: A is 24 octets, base64 without padding; the certifier is base64(SHA-1(A)), 27 chars', () => {
  const a = Uint8Array.from({ length: 24 }, (_, i) => i)
  const t = newTracking({ fqhn: 'client.example', randomBytes: fixedRandom(a), now: () => NOW })
  assert.ok(t.ok)
  assert.equal(t.value.secret, 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYX')
  assert.equal(t.value.certifier, createHash('sha1').update(a).digest('base64').replace(/=+$/, ''))
  assert.equal(t.value.certifier.length, 27)
  assert.equal(t.value.envid, `${NOW.toString(36)}.0000000000000000@client.example`)
})

test('MTRK-23 / MTRK-25: fresh secrets and envids every time, from the system CSPRNG by default', () => {
  const made = Array.from({ length: 50 }, () => newTracking({ fqhn: 'client.example' }))
  const secrets = new Set(made.map((t) => (t.ok ? t.value.secret : '')))
  const envids = new Set(made.map((t) => (t.ok ? t.value.envid : '')))
  assert.equal(secrets.size, 50)
  assert.equal(envids.size, 50)
  for (const t of made) {
    assert.ok(t.ok)
    assert.equal(decodeBase64Strict(t.value.secret, { allowPadding: false })?.length, 24)
    assert.ok(isUniqueEnvid(t.value.envid))
  }
})

test('RFC 3885 §3.1: the MAIL FROM parameters are exactly what the SMTP side accepts and records', () => {
  const t = newTracking({ fqhn: 'client.example', timeout: 3600, now: () => NOW })
  assert.ok(t.ok)
  assert.equal(t.value.mailParameters, `ENVID=${t.value.envid} MTRK=${t.value.certifier}:3600`)
  const params = splitCommandParams(`MAIL FROM:<s@client.example> ${t.value.mailParameters}`)
  assert.ok(params)
  const parsed = parseMailParams(params, {
    allowed: new Set(),
    rejectUnknown: true,
    mtrkWithoutEnvid: 'reject',
  })
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message)
  assert.equal(parsed.value.envid?.xtext, t.value.envid)
  assert.equal(parsed.value.mtrk?.timeout, 3600)
  const secret = decodeBase64Strict(t.value.secret, { allowPadding: false })!
  assert.deepEqual(
    decodeBase64Strict(parsed.value.mtrk?.certifier ?? '', { allowPadding: false }),
    createHash('sha1').update(secret).digest(),
    'SEC-5: B opens with A',
  )
})

test('RFC 3887 §9 / URI-3: the URI names the server and parses back to the same envid and secret', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 24, maxLength: 24 }),
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      (a, port) => {
        const server = port === undefined ? { host: 'mtqp.example.net' } : { host: 'mtqp.example.net', port }
        const t = newTracking({ fqhn: 'client.example', server, randomBytes: fixedRandom(a) })
        assert.ok(t.ok)
        const u = parseMtqpUri(t.value.uri ?? '')
        assert.ok(u.ok)
        assert.deepEqual(u.value, { ...server, envid: t.value.envid, secret: t.value.secret })
      },
    ),
  )
})

test('MTRK-24 / TV-4: local@fqhn over 100 characters uses base64(SHA-1(fqhn)) for the host', () => {
  const label = 'a'.repeat(60)
  const long = `${label}.${label}.example.com`
  const t = newTracking({ fqhn: long, randomBytes: fixedRandom(new Uint8Array(24)), now: () => NOW })
  assert.ok(t.ok)
  const hashed = createHash('sha1').update(long).digest('base64').replace(/=+$/, '').replace(/\+/g, '+2B')
  assert.equal(t.value.envid, `${NOW.toString(36)}.0000000000000000@${hashed}`)
  assert.ok(t.value.envid.length <= 100)
  const tv4 = newTracking({ fqhn: 'mail.example.com', now: () => NOW })
  assert.ok(tv4.ok && tv4.value.envid.endsWith('@mail.example.com'), 'short names are kept')
})

test('wrong input is refused with a reason: not an FQDN, a timeout outside 0..999999999', () => {
  assert.deepEqual(newTracking({ fqhn: 'vm' }), {
    ok: false,
    error: '"vm" is not a fully qualified host name (RFC 3885 §3.2 wants local-envid@FQDN)',
  })
  for (const timeout of [-1, 1.5, 1_000_000_000])
    assert.equal(newTracking({ fqhn: 'a.example', timeout }).ok, false)
  assert.equal(newTracking({ fqhn: 'a.example', timeout: 0 }).ok, true, 'AMB-19: 0 is a valid timeout')
})
