// The tracking page in a real browser (Debian chromium, playwright-core) against a real chain of two Haraka relays:
// A serves the page on its HTTP server (config/http.ini) and relays the message to B, which delivers it. The page
// asks A's MTQP server (TLS, certificate checked), follows the referral to B through SRV records of a real DNS server
// (dnsmasq), and draws the timeline. Screenshots go to docs/img/ (README shows one). Tests run in order: the
// failed-TRACK budget test spends the budget of 127.0.0.1, at the page and at A's MTQP server, for the tests after it.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { newTracking } from '../../src/client/new-tracking'
import { makeCertificate, type TestCertificate } from '../helpers/cert'
import { type DnsServer, startDns } from '../helpers/dns'
import { type HarakaInstance, REPO, startHaraka } from '../helpers/haraka'
import { freePort, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'
import { openStore } from '../helpers/store'
import { launchChromium } from './browser'

const SHOTS = join(REPO, 'docs', 'img')
/** The failed-TRACK budget of both A's MTQP server and its page in this test: small, so the last test can spend it. */
const FAILED_TRACK_LIMIT = 3

describe('the tracking page on a relay, in a browser', () => {
  let a: HarakaInstance
  let b: HarakaInstance
  let dns: DnsServer
  let browser: Browser
  let base: string
  let certs: TestCertificate[]
  let made: { envid: string; secret: string; uri: string; mailParameters: string }
  let redisPort: number
  /** A's [web] section: the HTTPS relay of the last test serves the same page. */
  let web: Record<string, string | number | boolean>
  let tlsA: Record<string, string>

  before(async () => {
    redisPort = await sharedRedisPort()
    const certA = makeCertificate(['mtqp.a.test'])
    const certB = makeCertificate(['mtqp.b.test'])
    certs = [certA, certB]
    const tls = (c: TestCertificate) => ({
      'tls_key.pem': c.key.toString(),
      'tls_cert.pem': c.cert.toString(),
    })
    b = await startHaraka({
      redisPort,
      me: 'mx.b.test',
      files: { ...tls(certB), test_local_domains: 'b.relay.test\n' },
      mtrk: { mtqp: {} },
    })
    dns = await startDns({
      zones: ['test'],
      srv: [{ name: '_mtqp._tcp.mx.b.test', target: 'mtqp.b.test', port: b.mtqpPort }],
    })
    tlsA = { ...tls(certA), 'relays-ca.pem': certA.cert.toString() + certB.cert.toString() }
    const httpPort = await freePort()
    // A's MTQP port, chosen here: [web] server names it, with the name A's certificate has.
    const aMtqp = await freePort()
    web = {
      enabled: true,
      path: '/track',
      starttls: 'required',
      ca: 'config/relays-ca.pem',
      server: `mtqp.a.test:${aMtqp}`,
      dns_servers: dns.address,
    }
    a = await startHaraka({
      redisPort,
      me: 'mx.a.test',
      plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
      files: {
        ...tlsA,
        'http.ini': `listen=127.0.0.1:${httpPort}\n`,
        // Everything Haraka logs, to show that no secret is among it.
        'log.ini': '[main]\nlevel=protocol\n',
        'test_mx.json': JSON.stringify({ 'b.relay.test': { port: b.smtpPort, name: 'mx.b.test' } }),
        'outbound.ini': 'local_mx_ok=true\n',
      },
      mtrk: {
        mtqp: { listen: `127.0.0.1:${aMtqp}`, failed_track_limit: FAILED_TRACK_LIMIT },
        web,
      },
    })
    await a.waitForLog(/tracking page at \/track\//)
    base = `http://127.0.0.1:${httpPort}/track/`
    const t = newTracking({ fqhn: 'sender.example', server: { host: 'mtqp.a.test', port: aMtqp } })
    assert.ok(t.ok)
    made = { ...t.value, uri: t.value.uri ?? '' }
    await send(made.mailParameters, 'alice@b.relay.test')
    await recorded(a, { 'alice@b.relay.test': 'transferred' })
    await recorded(b, { 'alice@b.relay.test': 'delivered' })
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await Promise.all([a?.stop(), b?.stop(), dns?.stop()])
    for (const c of certs ?? []) c.remove()
  })

  async function send(params: string, rcpt: string): Promise<void> {
    const { client } = await SmtpClient.connect(a.smtpPort)
    try {
      assert.equal((await client.cmd('EHLO client.sender.example')).code, 250)
      assert.equal((await client.cmd(`MAIL FROM:<sender@sender.example> ${params}`)).code, 250)
      assert.equal((await client.cmd(`RCPT TO:<${rcpt}> ORCPT=rfc822;${rcpt}`)).code, 250)
      assert.equal((await client.data('Subject: tracked\n\nhello\n')).code, 250)
    } finally {
      client.close()
    }
  }

  async function recorded(h: HarakaInstance, want: Record<string, string>): Promise<void> {
    const store = await openStore(redisPort, h.prefix)
    try {
      await waitFor(
        async () => {
          const got = (await store.lookup(made.envid)).flatMap((m) => m.recipients)
          return Object.entries(want).every(([rcpt, action]) =>
            got.some((r) => r.address === rcpt && r.action === action),
          )
        },
        30000,
        `${h.me} to record ${JSON.stringify(want)}`,
      )
    } finally {
      await store.close()
    }
  }

  /** A fresh page, failing the test on any Content-Security-Policy violation or script error. */
  async function open(url = base): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } })
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    await page.goto(url)
    return { page, problems }
  }

  async function shot(page: Page, name: string): Promise<void> {
    writeFileSync(join(SHOTS, name), await page.screenshot({ fullPage: true }))
  }

  test('a message tracked across both relays: progress per relay, then the delivered timeline', async () => {
    const { page, problems } = await open()
    // Keyboard only: the link field has its label, Enter submits.
    await page.getByLabel('Tracking link').focus()
    await page.keyboard.type(made.uri)
    await page.keyboard.press('Enter')
    const card = page.locator('article.recipient')
    await card.waitFor()
    assert.equal(await card.count(), 1)
    assert.match((await card.locator('h3').textContent()) ?? '', /alice@b\.relay\.test\s*✓?\s*Delivered/)
    const steps = await card.locator('.timeline .step').allInnerTexts()
    assert.equal(steps.length, 2)
    assert.match(steps[0] ?? '', /mx\.a\.test[\s\S]*passed on[\s\S]*2\.\d\.\d[\s\S]*to mx\.b\.test/i)
    assert.match(steps[1] ?? '', /mx\.b\.test[\s\S]*delivered[\s\S]*2\.\d\.\d/i)
    assert.match((await card.locator('.end').textContent()) ?? '', /mx\.b\.test delivered the message/)
    const hops = await page.locator('#hops li').allInnerTexts()
    assert.equal(hops.length, 2)
    assert.match(hops[0] ?? '', /mtqp\.a\.test:\d+ \(TLSv1\.[23], certificate verified\) answered: 1 report/)
    assert.match(hops[1] ?? '', /mtqp\.b\.test:\d+ \(TLSv1\.[23], certificate verified\) answered: 1 report/)
    assert.deepEqual(problems, [])
    await page.locator('details.legend summary').click()
    await page.locator('#result-title').focus()
    await shot(page, 'tracking-page.png')
    await page.close()
  })

  test('a link with the URI in its fragment tracks at once and drops the fragment from the address bar', async () => {
    const { page } = await open(`${base}#${encodeURIComponent(made.uri)}`)
    await page.locator('article.recipient').waitFor()
    assert.equal(new URL(page.url()).hash, '')
    assert.equal(await page.locator('.recipient .badge').first().textContent(), '✓Delivered')
    await page.close()
  })

  test('a wrong secret shows the same "no information" as an unknown envid', async () => {
    const shown = async (body: { envid: string; secret: string }) => {
      const { page } = await open()
      await page.getByLabel('Envelope id (ENVID)').fill(body.envid)
      await page.getByLabel('Secret').fill(body.secret)
      await page.getByRole('button', { name: 'Track message' }).click()
      await page.locator('#nothing').waitFor()
      return { page, text: (await page.locator('#summary').textContent()) ?? '' }
    }
    const wrongSecret = await shown({ envid: made.envid, secret: Buffer.alloc(24, 7).toString('base64') })
    const unknownEnvid = await shown({ envid: `x${made.envid}`, secret: made.secret })
    assert.match(wrongSecret.text, /No information about this message/)
    assert.equal(wrongSecret.text, unknownEnvid.text)
    await shot(wrongSecret.page, 'tracking-page-noinfo.png')
    await wrongSecret.page.close()
    await unknownEnvid.page.close()
  })

  test('every answer has a strict CSP and no Referer; a POST without the page token or from elsewhere is refused', async () => {
    const page = await fetch(base)
    assert.equal(page.status, 200)
    assert.equal(
      page.headers.get('content-security-policy'),
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer')
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
    const token = /name="mtrk-csrf" content="([^"]+)"/.exec(await page.text())?.[1] ?? ''
    assert.match(cookie, /^mtrk_csrf=.{20,}/)
    const post = (headers: Record<string, string>) =>
      fetch(`${base}api/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ uri: made.uri }),
      })
    const none = await post({})
    assert.equal(none.status, 403)
    assert.match(((await none.json()) as { error: string }).error, /page token/)
    assert.equal((await post({ cookie, 'x-mtrk-csrf': `${token}x` })).status, 403)
    assert.equal((await post({ cookie, 'x-mtrk-csrf': token, origin: 'http://evil.example' })).status, 403)
    const good = await post({ cookie, 'x-mtrk-csrf': token })
    assert.equal(good.status, 200)
    assert.match(good.headers.get('content-type') ?? '', /^application\/x-ndjson/)
    const lines = (await good.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; phase?: string })
    assert.deepEqual(
      lines.map((l) => `${l.event}${l.phase ? ` ${l.phase}` : ''}`),
      ['hop asking', 'hop done', 'hop asking', 'hop done', 'report'],
    )
  })

  test('the secret is never in a log line, a query string or an answer header', async () => {
    const logs = a.logs()
    assert.match(logs, /tracking page: .* for 127\.0\.0\.1: delivered, 2 server\(s\) asked/)
    for (const form of [made.secret, encodeURIComponent(made.secret), made.uri])
      assert.ok(!logs.includes(form), 'the secret is not logged')
  })

  test("over HTTPS when http.ini listens on port 443 with Haraka's certificate: Secure cookie, HSTS", async () => {
    // Haraka serves HTTPS on port 443 only: a loopback address of its own keeps it clear of other listeners.
    const host = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`
    const https = await startHaraka({
      redisPort,
      plugins: ['tls', 'test_rcpt', 'mtrk', 'test_queue'],
      files: { ...tlsA, 'http.ini': `listen=${host}:443\n` },
      mtrk: { web },
    })
    await https.waitForLog(/tracking page at \/track\//)
    const context = await browser.newContext({ ignoreHTTPSErrors: true })
    try {
      const page = await context.newPage()
      const answer = await page.goto(`https://${host}/track/#${encodeURIComponent(made.uri)}`)
      assert.equal(answer?.headers()['strict-transport-security'], 'max-age=31536000')
      await page.locator('article.recipient.state-delivered').waitFor()
      const [cookie] = await context.cookies()
      assert.deepEqual(
        [cookie?.name, cookie?.secure, cookie?.httpOnly, cookie?.sameSite, cookie?.path],
        ['mtrk_csrf', true, true, 'Strict', '/track/'],
      )
    } finally {
      await context.close()
      await https.stop()
    }
  })

  test('the failed-TRACK budget: once a client has spent it, the page refuses before asking anything', async () => {
    const { page } = await open()
    for (let i = 0; ; i++) {
      assert.ok(i <= FAILED_TRACK_LIMIT, 'the budget ran out')
      await page.getByLabel('Envelope id (ENVID)').fill(`guess${i}@sender.example`)
      await page.getByLabel('Secret').fill(made.secret)
      await page.getByRole('button', { name: 'Track message' }).click()
      await page.locator('#nothing, #problem:not([hidden])').first().waitFor()
      if (await page.locator('#problem').isVisible()) break
    }
    assert.match(
      (await page.locator('#problem').textContent()) ?? '',
      /too many look-ups found nothing from your address/,
    )
    await page.close()
  })

  test('a relay without [web] enabled mounts nothing on its HTTP server', async () => {
    const port = await freePort()
    const plain = await startHaraka({ redisPort, files: { 'http.ini': `listen=127.0.0.1:${port}\n` } })
    try {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => null)) !== null,
        10000,
        'HTTP',
      )
      const r = await fetch(`http://127.0.0.1:${port}/mtrk/`)
      assert.equal(r.status, 404)
      assert.equal(r.headers.get('referrer-policy'), null, 'not answered by the tracking page')
      assert.ok(!plain.logs().includes('tracking page'))
    } finally {
      await plain.stop()
    }
  })
})
