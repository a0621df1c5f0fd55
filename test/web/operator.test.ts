// The operator page on a real relay: Haraka with the plugin accepts mail over SMTP and relays it to an aiosmtpd next
// hop that defers one recipient once and rejects another; the page reads what the relay recorded through the trace
// library. HTTP Basic authentication against the scrypt hash of [web] operator_password_hash, then the page in
// Debian chromium: search, the results table, a message with every attempt, the chart of outcomes per hour. The
// screenshot goes to docs/img/.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import type { TracedMessage, TracePage } from '../../src/trace/index'
import { type HarakaInstance, REPO } from '../helpers/haraka'
import { type Peer, startPeer } from '../helpers/peer'
import { waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { launchChromium } from './browser'
import { basic, DOMAIN, sendMessage, startOperatorRelay } from './operator-relay'

const PASSWORD = 'correct horse battery staple'
const AUTH = { authorization: basic('operator', PASSWORD) }
/** A Message-ID that is HTML (the trace keeps it without spaces): what a sender writes reaches the page as text. */
const MARKUP_ID = 'm2<img/src=x/onerror=window.pwned=1>@sender.example'

describe('the operator page on a real relay', () => {
  let h: HarakaInstance
  let peer: Peer
  let browser: Browser
  let base: string
  /** The queue ids of the message deferred once, then relayed, and of the one with markup in its Message-ID. */
  let deferred: string
  let markup: string

  const send = (from: string, to: string, messageId: string) => sendMessage(h, from, to, messageId)

  before(async () => {
    peer = await startPeer([{ name: 'b', ehlo: ['ENHANCEDSTATUSCODES'] }])
    ;({ h, base } = await startOperatorRelay({
      redisPort: await sharedRedisPort(),
      peer,
      password: PASSWORD,
      // Everything Haraka logs, to show that no password is among it.
      files: { 'log.ini': '[main]\nlevel=protocol\n' },
      // 5 s: the shortest retry interval Haraka allows.
      outbound: 'temp_fail_intervals=5s\n',
    }))
    // Deferred once by the next hop (450), then relayed; and refused by it (550).
    await send('alice@sender.example', `defer-once-bob@${DOMAIN}`, 'm1@sender.example')
    // Its Message-ID is markup: the page must show it as text.
    await send('carol@sender.example', `reject-dan@${DOMAIN}`, MARKUP_ID)
    const settled = await waitFor(
      async () => {
        const r = await fetch(`${base}api/search?toDomain=${DOMAIN}&since=1h`, { headers: AUTH })
        const page = (await r.json()) as TracePage
        const actions = page.messages.flatMap((m) => m.recipients.map((x) => x.action)).sort()
        return actions.join() === 'failed,relayed' ? page : undefined
      },
      30000,
      'the relay to record one message relayed after a deferral and one failed',
    )
    const first = settled.messages.find((m) => m.messageId === 'm1@sender.example') as TracedMessage
    deferred = first.txn
    markup = (settled.messages.find((m) => m.messageId === MARKUP_ID) as TracedMessage).txn
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await h?.stop()
    await peer?.stop()
  })

  test('without credentials, or with wrong ones, 401; with the right ones the page, and no password logged', async () => {
    const none = await fetch(base)
    assert.equal(none.status, 401)
    assert.equal(none.headers.get('www-authenticate'), 'Basic realm="mtrk operator", charset="UTF-8"')
    assert.equal((await fetch(base, { headers: { authorization: basic('operator', 'guess') } })).status, 401)
    assert.equal((await fetch(base, { headers: { authorization: basic('root', PASSWORD) } })).status, 401)
    const good = await fetch(base, { headers: AUTH })
    assert.equal(good.status, 200)
    assert.match(await good.text(), /<h1>Message trace<\/h1>/)
    assert.match(good.headers.get('content-security-policy') ?? '', /^default-src 'self'/)
    assert.ok(!h.logs().includes(PASSWORD) && !h.logs().includes('guess'))
    assert.match(h.logs(), /operator page: wrong credentials from 127\.0\.0\.1/)
  })

  test('no credentials: refused; with them: search, the results table, a message with every attempt, the chart', async () => {
    const refused = await browser.newContext()
    // Headless chromium answers the 401's Basic challenge it has no credentials for with this error.
    const denied = await (await refused.newPage()).goto(base).then(
      (r) => String(r?.status()),
      (e: Error) => e.message,
    )
    assert.match(denied, /ERR_INVALID_AUTH_CREDENTIALS|^401$/)
    await refused.close()

    const context = await browser.newContext({
      httpCredentials: { username: 'operator', password: PASSWORD },
      viewport: { width: 1200, height: 900 },
      timezoneId: 'UTC',
      locale: 'en-GB',
    })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    page.on('request', (r) => {
      if (new URL(r.url()).origin !== new URL(base).origin) problems.push(`asked another site: ${r.url()}`)
    })
    await page.goto(base)
    await page.getByLabel('Recipient domain', { exact: true }).fill(DOMAIN)
    await page.getByRole('button', { name: 'Search' }).click()
    await page.locator('#results tbody tr').nth(1).waitFor()
    const rows = await page.locator('#results tbody tr').allInnerTexts()
    assert.equal(rows.length, 2, 'newest first')
    assert.match(
      rows[0] ?? '',
      /carol@sender\.example\s+reject-dan@b\.relay\.test\s+failed\s+5\.1\.1\s+mx\.b\.test\s+550 5\.1\.1 no such user here/,
    )
    assert.match(
      rows[1] ?? '',
      /alice@sender\.example\s+defer-once-bob@b\.relay\.test\s+relayed\s+2\.\d\.\d\s+mx\.b\.test\s+250 /,
    )
    // The chart: the hour (or two, across an hour's end) of both messages, one relayed and one failed recipient.
    await page.locator('#chart svg rect.seg').first().waitFor()
    const segments = await page
      .locator('#chart svg rect.seg')
      .evaluateAll((rs) => rs.map((r) => r.getAttribute('class')))
    assert.deepEqual([...new Set(segments)].sort(), ['seg seg-failed', 'seg seg-relayed'])
    const legend = (await page.locator('#chart-legend').textContent()) ?? ''
    assert.match(legend, /relayed: 1/)
    assert.match(legend, /failed: 1/)

    await page.getByRole('button', { name: markup }).click()
    await page.locator('#detail .attempts').waitFor()
    assert.match(
      (await page.locator('#detail-header').textContent()) ?? '',
      /m2<img\/src=x\/onerror=window\.pwned=1>@/,
    )
    assert.equal(await page.locator('#detail img, #results img').count(), 0, 'no element made of it')
    assert.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined)

    await page.getByRole('button', { name: deferred }).click()
    await page.locator('#detail-title', { hasText: deferred }).waitFor()
    await page.locator('#detail .attempts').waitFor()
    const attempts = await page.locator('#detail .attempts tbody tr').allInnerTexts()
    assert.equal(attempts.length, 2, 'the deferral and the relaying')
    assert.match(
      attempts[0] ?? '',
      /delayed\s+4\.2\.1\s+mx\.b\.test\s+450 4\.2\.1 mailbox busy, try again later/,
    )
    assert.match(attempts[1] ?? '', /relayed\s+2\.\d\.\d\s+mx\.b\.test\s+250 /)
    assert.match(
      (await page.locator('#detail-header').textContent()) ?? '',
      new RegExp(`${deferred}, ${deferred}\\.1`),
    )
    assert.deepEqual(problems, [])
    await page.locator('#results-title').focus()
    await page.screenshot({ path: join(REPO, 'docs', 'img', 'operator-page.png'), fullPage: true })
    await context.close()
  })

  test('the API answers only GET, and only with the credentials', async () => {
    const post = await fetch(`${base}api/search`, { method: 'POST' })
    assert.equal(post.status, 405)
    assert.equal((await fetch(`${base}api/search`)).status, 401)
    assert.equal((await fetch(`${base}api/message/none`, { headers: AUTH })).status, 404)
    const bad = await fetch(`${base}api/search?since=yesterday`, { headers: AUTH })
    assert.equal(bad.status, 400)
    assert.match(((await bad.json()) as { error: string }).error, /^since: "yesterday" is not a time/)
  })

  test('a query key the route does not read is a 400 naming it, never ignored', async () => {
    for (const [path, key] of [
      ['api/search?bogus=1', 'bogus'],
      [`api/search?rcpt=bob@${DOMAIN}`, 'rcpt'],
      ['api/summary?since=1h&to=bob@b.relay.test', 'to'],
      [`api/message/${deferred}?json=1`, 'json'],
    ]) {
      const r = await fetch(`${base}${path}`, { headers: AUTH })
      assert.equal(r.status, 400, path)
      assert.match(
        ((await r.json()) as { error: string }).error,
        new RegExp(`^${key}: not a query key`),
        path,
      )
    }
    assert.equal((await fetch(`${base}api/summary?since=1h&until=now`, { headers: AUTH })).status, 200)
  })

  test('a range from before 1970 is a 400 naming since; one from 2000 is cut to what is kept, mail flows', async () => {
    // Both used to run in Haraka's event loop for every hour asked (999999999d: until memory ran out).
    const get = (path: string) =>
      fetch(`${base}${path}`, { headers: AUTH, signal: AbortSignal.timeout(20_000) })
    const bad = await get('api/summary?since=999999999d')
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as { error: string }).error, 'since: "999999999d" is before 1970')
    const summary = await get('api/summary?since=2000-01-01&until=9999-12-31')
    assert.equal(summary.status, 200)
    assert.ok(((await summary.json()) as { total: { messages: number } }).total.messages >= 2)
    const search = await get(`api/search?toDomain=${DOMAIN}&since=2000-01-01`)
    assert.equal(search.status, 200)
    assert.ok(((await search.json()) as TracePage).messages.length >= 2)
    await send('erin@sender.example', `erin@${DOMAIN}`, 'm3@sender.example')
  })
})
