// The tracking page asks this relay's own MTQP listener for everyone who uses it, so the listener sees every page
// user's TRACK come from the page's address. On a real relay, with page users on addresses of their own (Linux routes
// all of 127.0.0.0/8 to lo, so a client socket can bind any of them): one user's wrong guesses are counted against
// that user's address, at the page and at the listener alike, never against the page's, and other users keep
// tracking; the guesses count once toward the global ceiling. Also in Haraka's cluster mode, where the page runs in
// every worker and the listener in the master.
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { newTracking } from '../../src/client/new-tracking'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { destroyMtqpClients, MtqpTestClient, waitForMtqpReady } from '../helpers/mtqp'
import { freePort, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'
import { openStore } from '../helpers/store'

const LIMIT = 3
const WRONG = Buffer.alloc(16, 7).toString('base64')

let redisPort: number
let httpPort: number
let made: { envid: string; secret: string; mailParameters: string }

/** One HTTP exchange from the local address `from`. */
function http(
  from: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: httpPort, localAddress: from, method, path, headers },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** A page user at `from`: loads the page (its CSRF token and cookie), then tracks with the envid and a secret. */
async function track(from: string, secret: string): Promise<{ status: number; outcome: string }> {
  const page = await http(from, 'GET', '/mtrk/')
  const token = /name="mtrk-csrf" content="([^"]+)"/.exec(page.text)?.[1] ?? ''
  const cookie = String(page.headers['set-cookie'] ?? '').split(';')[0] ?? ''
  const r = await http(
    from,
    'POST',
    '/mtrk/api/track',
    { 'content-type': 'application/json', cookie, 'x-mtrk-csrf': token },
    JSON.stringify({ envid: made.envid, secret }),
  )
  if (r.status !== 200) return { status: r.status, outcome: (JSON.parse(r.text) as { error: string }).error }
  const last = JSON.parse(r.text.trim().split('\n').at(-1) ?? '{}') as {
    report?: { state: string; failure?: { failure: string } }
  }
  return { status: r.status, outcome: last.report?.failure?.failure ?? last.report?.state ?? r.text }
}

for (const nodes of [0, 2])
  describe(nodes === 0 ? 'one Haraka process' : `Haraka in cluster mode, ${nodes} workers`, () => {
    let h: HarakaInstance
    before(async () => {
      redisPort = await sharedRedisPort()
      httpPort = await freePort()
      h = await startHaraka({
        redisPort,
        nodes,
        files: { 'http.ini': `listen=127.0.0.1:${httpPort}\n` },
        // [web] server unset: the page asks this relay's listener on 127.0.0.1, which failed_track_proxies then names.
        mtrk: {
          mtqp: { failed_track_limit: LIMIT, noinfo_delay: 0, starttls: 'off' },
          web: { enabled: true },
        },
      })
      // In cluster mode every worker mounts the page (Haraka's HTTP server runs in each), the master runs the listener.
      await waitFor(
        () => (h.logs().match(/tracking page at \/mtrk\//g) ?? []).length === Math.max(1, nodes),
        15000,
        'the page mounted in every process serving HTTP',
      )
      await waitForMtqpReady(h.mtqpPort)
      const t = newTracking({ fqhn: 'sender.example', server: { host: '127.0.0.1', port: h.mtqpPort } })
      assert.ok(t.ok)
      made = t.value
      const { client } = await SmtpClient.connect(h.smtpPort)
      try {
        assert.equal((await client.cmd('EHLO client.sender.example')).code, 250)
        assert.equal((await client.cmd(`MAIL FROM:<alice@sender.example> ${made.mailParameters}`)).code, 250)
        assert.equal((await client.cmd('RCPT TO:<bob@local.test>')).code, 250)
        assert.equal((await client.data('Subject: tracked\n\nhello\n')).code, 250)
      } finally {
        client.close()
      }
      const store = await openStore(redisPort, h.prefix)
      try {
        await waitFor(
          async () =>
            (await store.lookup(made.envid)).some((m) => m.recipients.some((r) => r.action === 'delivered')),
          15000,
          'the delivery recorded',
        )
      } finally {
        await store.close()
      }
    })

    after(async () => {
      destroyMtqpClients()
      await h?.stop()
    })

    test("a page user's wrong guesses spend that user's budget, not the page's: other users keep tracking", async () => {
      const guesser = '127.0.0.2'
      for (let i = 0; i < LIMIT; i++)
        assert.deepEqual(await track(guesser, WRONG), { status: 200, outcome: 'noinfo' })
      const spent = await track(guesser, made.secret)
      assert.equal(spent.status, 429, 'refused before anything is asked, even with the right secret')
      assert.match(spent.outcome, /too many look-ups found nothing from your address/)

      // Others, on the page as before: the right secret tracks, a wrong one is "no information", not "too many".
      assert.deepEqual(await track('127.0.0.3', made.secret), { status: 200, outcome: 'delivered' })
      assert.deepEqual(await track('127.0.0.4', WRONG), { status: 200, outcome: 'noinfo' })
      assert.deepEqual(await track('127.0.0.3', made.secret), { status: 200, outcome: 'delivered' })

      const redis = new Redis({ port: redisPort, host: '127.0.0.1' })
      try {
        const counter = (client: string) => redis.get(`${h.prefix}{failed-track}:client:${client}`)
        assert.equal(await counter(guesser), String(LIMIT))
        assert.equal(await counter('127.0.0.4'), '1')
        assert.equal(await counter('127.0.0.1'), null, "the page's own address is charged nothing")
        // The last right TRACKs' reservations go back a few ms after their answers (they wait to ride with others).
        await waitFor(
          async () => (await redis.get(`${h.prefix}{failed-track}:all`)) === String(LIMIT + 1),
          5000,
          'each guess counted once',
        )
      } finally {
        redis.disconnect()
      }
      assert.match(h.logs(), /MTQP listening on 127\.0\.0\.1:\d+/)
    })

    test('the guesser asking the listener directly meets the same spent budget; another address its own', async () => {
      const direct = await MtqpTestClient.connect(h.mtqpPort, '127.0.0.1', '127.0.0.2')
      assert.match((await direct.next()).indicator, /^\+OK/)
      direct.send(`TRACK ${made.envid} ${made.secret}\r\n`)
      const refused = await direct.next()
      assert.deepEqual([refused.indicator, ...refused.codes], ['-TEMP', 'too-many-failures'])
      const other = await MtqpTestClient.connect(h.mtqpPort, '127.0.0.1', '127.0.0.5')
      assert.match((await other.next()).indicator, /^\+OK/)
      for (let i = 0; i < LIMIT; i++) {
        other.send(`TRACK x${i}${made.envid} ${WRONG}\r\n`)
        const r = await other.next()
        assert.deepEqual([r.indicator, ...r.codes], ['-ERR', 'noinfo'])
      }
      other.send(`TRACK ${made.envid} ${made.secret}\r\n`)
      const r = await other.next()
      assert.deepEqual([r.indicator, ...r.codes], ['-TEMP', 'too-many-failures'])
    })

    test('the operator page is off unless [web] operator is on: nothing is served there', async () => {
      const r = await http('127.0.0.6', 'GET', '/mtrk/operator/')
      assert.equal(r.status, 404)
      assert.equal(r.headers['www-authenticate'], undefined)
    })
  })
