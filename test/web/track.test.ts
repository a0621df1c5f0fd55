// The tracking API's pure parts: what a POST body may hold, and the CSRF and cookie rules, on plain objects.
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { test } from 'node:test'
import { urlPath } from '../../src/config/kinds'
import { csrfCookie, csrfProblem } from '../../src/web/http'
import { trackTargetOf } from '../../src/web/track'

const OWN = { host: 'mtqp.a.test', port: 1038 }
const SECRET = Buffer.alloc(24, 1).toString('base64')

test('a POST body names a message by mtqp URI, or by envid and secret for this relay', () => {
  const byUri = trackTargetOf({ uri: ` mtqp://mtqp.b.test:2038/track/m1@s.example/${SECRET} ` }, OWN)
  assert.ok(byUri.ok)
  assert.deepEqual(byUri.value.target, { kind: 'server', host: 'mtqp.b.test', port: 2038 })
  assert.equal(byUri.value.request.envid, 'm1@s.example')
  const bySecret = trackTargetOf({ envid: 'm1@s.example', secret: SECRET }, OWN)
  assert.ok(bySecret.ok)
  assert.deepEqual(bySecret.value.target, { kind: 'server', ...OWN })
  assert.deepEqual([...bySecret.value.request.secret], [...Buffer.alloc(24, 1)])
})

test('a bad body is refused with a reason that never repeats the secret', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /JSON object/],
    ['uri', /JSON object/],
    [{}, /tracking link, or both/],
    [{ envid: 'm1@s.example' }, /tracking link, or both/],
    [{ uri: 'http://x/track/a/b' }, /not a valid mtqp:\/\/ URI/],
    [{ uri: `mtqp://h/track/e/${'A'.repeat(2000)}` }, /too long/],
    [{ envid: 'm 1@s', secret: SECRET }, /printable ASCII/],
    [{ envid: 'm1@s', secret: 'not*base64' }, /not base64/],
    [{ uri: 'mtqp://mtqp.b.test' }, /has no \/track\/ path$/],
    [{ uri: 'mtqp://mtqp.b.test/find/a/b' }, /must start with \/track\/$/],
    [{ uri: 'mtqp://mtqp.b.test/track/a' }, /must be \/track\/<envid>\/<secret>$/],
    [{ uri: 'mtqp://mtqp.b.test/track/a/b?x' }, /no query or fragment/],
    [{ uri: 'mtqp://mtqp.b.test:0/track/a/b' }, /bad port/],
    [{ uri: 'mtqp://mtqp.b.test/track/a%zz@s.example/b' }, /%-escape in the envid/],
    [{ uri: 'mtqp://mtqp.b.test/track/a@s.example/not*base64' }, /not base64/],
  ]
  for (const [body, reason] of cases) {
    const r = trackTargetOf(body, OWN)
    assert.ok(!r.ok, JSON.stringify(body))
    assert.match(r.error, reason)
    assert.ok(!r.error.includes('not*base64'))
    // Our checklist ids (docs/conformance.md) are for the code, never for the person reading the error.
    assert.doesNotMatch(r.error, /\b(?:AMB|DSN|ERR|ESC|HRK|MTQPC?|MTRK|SEC|TSN|TV|URI)-\d+/)
  }
})

function request(headers: Record<string, string>, encrypted = false): IncomingMessage {
  return { headers, socket: { encrypted } } as unknown as IncomingMessage
}

test('CSRF: the header must equal the cookie, and Origin or Sec-Fetch-Site must be this site when sent', () => {
  const good = { host: 'relay.example:8080', cookie: 'a=1; mtrk_csrf=tok123', 'x-mtrk-csrf': 'tok123' }
  assert.equal(csrfProblem(request(good)), null)
  assert.equal(csrfProblem(request({ ...good, origin: 'http://relay.example:8080' })), null)
  assert.equal(csrfProblem(request({ ...good, origin: 'https://relay.example:8080' }, true)), null)
  assert.match(
    csrfProblem(request({ ...good, origin: 'http://relay.example:8080' }, true)) ?? '',
    /another site/,
  )
  assert.match(csrfProblem(request({ ...good, origin: 'http://evil.example' })) ?? '', /another site/)
  assert.match(csrfProblem(request({ ...good, 'sec-fetch-site': 'cross-site' })) ?? '', /another site/)
  assert.match(csrfProblem(request({ ...good, 'x-mtrk-csrf': 'tok124' })) ?? '', /page token/)
  assert.match(csrfProblem(request({ ...good, cookie: 'mtrk_csrf=', 'x-mtrk-csrf': '' })) ?? '', /page token/)
  assert.match(csrfProblem(request({ host: good.host, 'x-mtrk-csrf': 'tok123' })) ?? '', /page token/)
  assert.equal(csrfCookie(request({}), 't', '/mtrk/'), 'mtrk_csrf=t; Path=/mtrk/; HttpOnly; SameSite=Strict')
  assert.match(csrfCookie(request({}, true), 't', '/mtrk/'), /; Secure$/)
})

test('[web] path: plain segments from the root, no dot segments, no trailing slash', () => {
  for (const ok of ['/mtrk', '/tools/track', '/a.b/c~d_e-f']) assert.equal(urlPath.parse(ok), ok)
  for (const bad of ['mtrk', '/', '/mtrk/', '/a/../b', '/./a', '/a b', '/a?x', '//a'])
    assert.equal(urlPath.parse(bad), undefined, bad)
})
