// The operator page: HTTP Basic authentication against the scrypt hash of [web] operator_password_hash on a real
// Haraka, and the page itself in Debian chromium (search, results table, a message's attempts, the chart of outcomes
// per hour). The trace library of issue 12 is not on this branch: the browser test serves the page from a plain
// node:http server with an in-memory trace shaped like that library's answers, and the real relay answers 503 for
// the trace until it is wired in.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { parseConfig } from '../../src/config/config'
import { ok } from '../../src/util/result'
import { hashPassword } from '../../src/web/auth'
import { createOperatorPage, type OperatorTrace } from '../../src/web/operator'
import { createTrackingPage } from '../../src/web/page'
import { memoryBudget } from '../helpers/budget'
import { type HarakaInstance, REPO, startHaraka } from '../helpers/haraka'
import { freePort, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { launchChromium } from './browser'

const PASSWORD = 'correct horse battery staple'
const HOUR = 3_600_000
const T0 = Date.UTC(2026, 10, 30, 8)

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

describe('the operator page behind its password, on a real relay', () => {
  let h: HarakaInstance
  let base: string
  before(async () => {
    const port = await freePort()
    h = await startHaraka({
      redisPort: await sharedRedisPort(),
      files: { 'http.ini': `listen=127.0.0.1:${port}\n`, 'log.ini': '[main]\nlevel=protocol\n' },
      mtrk: {
        web: {
          enabled: true,
          operator: true,
          operator_password_hash: await hashPassword(PASSWORD, randomBytes(16)),
        },
      },
    })
    await h.waitForLog(/operator page at \/mtrk\/operator\//)
    base = `http://127.0.0.1:${port}/mtrk/operator/`
  })
  after(() => h?.stop())

  test('without credentials, or with wrong ones, 401; with the right ones the page, and no password logged', async () => {
    const none = await fetch(base)
    assert.equal(none.status, 401)
    assert.equal(none.headers.get('www-authenticate'), 'Basic realm="mtrk operator", charset="UTF-8"')
    assert.equal((await fetch(base, { headers: { authorization: basic('operator', 'guess') } })).status, 401)
    assert.equal((await fetch(base, { headers: { authorization: basic('root', PASSWORD) } })).status, 401)
    const good = await fetch(base, { headers: { authorization: basic('operator', PASSWORD) } })
    assert.equal(good.status, 200)
    assert.match(await good.text(), /<h1>Message trace<\/h1>/)
    assert.match(good.headers.get('content-security-policy') ?? '', /^default-src 'self'/)
    const search = await fetch(`${base}api/search?since=1d`, {
      headers: { authorization: basic('operator', PASSWORD) },
    })
    assert.equal(search.status, 200, 'the trace library answers (nothing sent yet)')
    assert.ok(!h.logs().includes(PASSWORD) && !h.logs().includes('guess'))
    assert.match(h.logs(), /operator page: wrong credentials from 127\.0\.0\.1/)
  })
})

/** Two messages as the trace library reports them: one delivered after a deferral, one failed. */
function traced() {
  const rcpt = (address: string, action: string, status: string, history: object[]) => ({
    address,
    orcpt: null,
    notify: null,
    action,
    status,
    remoteMta: 'mx.b.test',
    lastAttempt: T0 + 2 * HOUR,
    willRetryUntil: null,
    keepUntil: T0 + 240 * HOUR,
    updated: T0 + 2 * HOUR,
    history,
  })
  const header = (txn: string, from: string, arrival: number) => ({
    txn,
    arrival,
    from,
    messageId: `${txn}@sender.example`,
    envid: null,
    tracked: false,
    clientIp: '192.0.2.7',
    helo: 'client.sender.example',
    reportingMta: 'mx.a.test',
    queueIds: [txn, `${txn}.1`],
  })
  return [
    {
      ...header('5F1C2A8E-0001.1', 'alice@sender.example', T0 + 30 * 60_000),
      recipients: [
        rcpt('bob@b.relay.test', 'delivered', '2.0.0', [
          {
            id: 'a',
            at: T0 + 30 * 60_000,
            action: 'delayed',
            status: '4.4.1',
            host: 'mx.b.test',
            code: '421',
            reply: '4.4.1 try again later',
          },
          {
            id: 'b',
            at: T0 + 2 * HOUR,
            action: 'delivered',
            status: '2.0.0',
            host: 'mx.b.test',
            code: '250',
            reply: '2.0.0 OK queued as 9A1',
          },
        ]),
      ],
    },
    {
      ...header('5F1C2A8E-0002.1', 'carol@sender.example', T0 + 3 * HOUR),
      recipients: [
        rcpt('nobody@b.relay.test', 'failed', '5.1.1', [
          {
            id: 'c',
            at: T0 + 3 * HOUR,
            action: 'failed',
            status: '5.1.1',
            host: 'mx.b.test',
            code: '550',
            reply: '5.1.1 no such user',
          },
        ]),
      ],
    },
  ]
}

function memoryTrace(): OperatorTrace<{ since: number; until: number; to?: string }> {
  const messages = traced()
  return {
    query: (input) =>
      ok({ since: T0, until: T0 + 6 * HOUR, ...(input.to === undefined ? {} : { to: input.to }) }),
    search: async (q) => ({
      messages: messages.filter((m) => q.to === undefined || m.recipients.some((r) => r.address === q.to)),
      next: null,
    }),
    show: async (id) => messages.find((m) => m.queueIds.includes(id)) ?? null,
    summary: async () => ({
      hours: [
        { start: T0, messages: 1, recipients: { delivered: 4, delayed: 1 } },
        { start: T0 + HOUR, messages: 3, recipients: { delivered: 6, transferred: 2 } },
        { start: T0 + 3 * HOUR, messages: 2, recipients: { failed: 2, relayed: 1, delivered: 3 } },
      ],
      total: {
        messages: 6,
        recipients: { delivered: 13, delayed: 1, transferred: 2, failed: 2, relayed: 1 },
      },
    }),
  }
}

describe('the operator page in a browser', () => {
  let server: Server
  let browser: Browser
  let base: string
  before(async () => {
    const { config } = parseConfig({
      web: {
        enabled: 'true',
        operator: 'true',
        operator_password_hash: await hashPassword(PASSWORD, randomBytes(16)),
      },
    })
    const log = { info: () => {}, warn: () => {} }
    const budget = memoryBudget(20)
    const operator = createOperatorPage({
      config: () => config.web,
      trace: async () => memoryTrace(),
      budget,
      log,
    })
    const tracking = createTrackingPage({
      config: () => config.web,
      trackOptions: () => ({}),
      own: () => ({ host: '127.0.0.1', port: 1 }),
      budget,
      log,
    })
    server = createServer((req, res) =>
      operator(req, res, () =>
        tracking(req, res, () => {
          res.statusCode = 404
          res.end()
        }),
      ),
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mtrk/operator/`
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    server?.close()
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
    await page.goto(base)
    await page.getByLabel('Recipient', { exact: true }).fill('bob@b.relay.test')
    await page.getByRole('button', { name: 'Search' }).click()
    await page.locator('#results tbody tr').first().waitFor()
    const rows = await page.locator('#results tbody tr').allInnerTexts()
    assert.equal(rows.length, 1)
    assert.match(
      rows[0] ?? '',
      /alice@sender\.example\s+bob@b\.relay\.test\s+delivered\s+2\.0\.0\s+mx\.b\.test\s+250 2\.0\.0 OK queued as 9A1/,
    )
    await page.locator('#chart svg rect.seg').first().waitFor()
    assert.equal(await page.locator('#chart svg rect.seg').count(), 7)
    assert.match((await page.locator('#chart-legend').textContent()) ?? '', /delivered: 13.*failed: 2/)

    await page.getByRole('button', { name: '5F1C2A8E-0001.1' }).click()
    await page.locator('#detail .attempts').waitFor()
    const attempts = await page.locator('#detail .attempts tbody tr').allInnerTexts()
    assert.equal(attempts.length, 2)
    assert.match(attempts[0] ?? '', /delayed\s+4\.4\.1\s+mx\.b\.test\s+421 4\.4\.1 try again later/)
    assert.match(attempts[1] ?? '', /delivered\s+2\.0\.0\s+mx\.b\.test\s+250 2\.0\.0 OK queued as 9A1/)
    assert.match(
      (await page.locator('#detail-header').textContent()) ?? '',
      /5F1C2A8E-0001\.1, 5F1C2A8E-0001\.1\.1/,
    )
    assert.deepEqual(problems, [])
    await page.locator('#results-title').focus()
    await page.screenshot({ path: join(REPO, 'docs', 'img', 'operator-page.png'), fullPage: true })
    await context.close()
  })

  test('the API answers only GET, and only with the credentials', async () => {
    const post = await fetch(`${base}api/search`, { method: 'POST' })
    assert.equal(post.status, 405)
    const open = await fetch(`${base}api/search`)
    assert.equal(open.status, 401)
    await waitFor(
      async () =>
        (await fetch(`${base}api/message/none`, { headers: { authorization: basic('operator', PASSWORD) } }))
          .status === 404,
      1000,
      '404 for an unknown queue id',
    )
  })
})
