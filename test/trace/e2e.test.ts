// The operator trace end to end (issue 12, "Done when"): a real Haraka with the plugin accepts mail over SMTP for
// local, relayed, deferred and rejected destinations (next hops: aiosmtpd), and `mtrk-trace`, spawned as an operator
// runs it against the instance's own config/mtrk.ini, finds each message by every key, pages, shows every attempt
// and counts outcomes. Mail without MTRK is in the trace and never answerable over MTQP.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import type { TracedMessage, TracePage, TraceSummary } from '../../src/trace/index'
import { type HarakaInstance, REPO, startHaraka } from '../helpers/haraka'
import { destroyMtqpClients, MtqpTestClient } from '../helpers/mtqp'
import { type Peer, startPeer } from '../helpers/peer'
import { freePort, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'

const SECRET = 'AAECAwQFBgcICQoLDA0ODw==' // TV-1: A = 00..0f
const CERTIFIER = 'VheLhqV/rCKJmplkGFwsyW59pYk'
const BIN = join(REPO, 'bin', 'mtrk-trace.js')
const run = promisify(execFile)

/** The sender's domain, unique per run so searches by it see this file's messages only. */
const DOMAIN = `s${process.pid}.sender.test`
let haraka: HarakaInstance
let peer: Peer

interface Ran {
  code: number
  stdout: string
  stderr: string
}

/** `mtrk-trace` as an operator runs it: a process of its own, pointed at the Haraka directory. */
async function trace(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  try {
    const r = await run(process.execPath, [BIN, '-c', haraka.dir, ...args], {
      env: { ...process.env, ...env },
    })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string }
    return { code: x.code, stdout: x.stdout, stderr: x.stderr }
  }
}

async function search(...args: string[]): Promise<TracePage> {
  const r = await trace([...args, '--json'])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as TracePage
}

/** Sends one message; returns when the relay answered its end of DATA. */
async function send(opts: { from: string; to: string[]; mail?: string; messageId: string; expect?: number }) {
  const { client } = await SmtpClient.connect(haraka.smtpPort)
  try {
    await client.cmd('EHLO client.trace.test')
    assert.equal((await client.cmd(`MAIL FROM:<${opts.from}>${opts.mail ? ` ${opts.mail}` : ''}`)).code, 250)
    for (const to of opts.to) assert.equal((await client.cmd(`RCPT TO:<${to}>`)).code, 250, to)
    const data = await client.data(
      `Message-ID: <${opts.messageId}>\nSubject: trace test\n\nthe body, never stored\n`,
    )
    assert.equal(data.code, opts.expect ?? 250, data.text)
  } finally {
    client.close()
  }
}

const only = (page: TracePage) => {
  assert.equal(page.messages.length, 1, JSON.stringify(page.messages.map((m) => m.txn)))
  return page.messages[0] as TracedMessage
}

before(async () => {
  const redisPort = await sharedRedisPort()
  peer = await startPeer([{ name: 'plain', ehlo: ['ENHANCEDSTATUSCODES'] }])
  haraka = await startHaraka({
    redisPort,
    me: 'mx.trace.test',
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    files: {
      'test_mx.json': JSON.stringify({
        'plain.relay.test': { port: peer.ports.plain, name: 'mx.plain.test' },
        [DOMAIN]: { port: peer.ports.plain, name: 'mx.plain.test' },
      }),
      'outbound.ini': 'temp_fail_intervals=5s,5s\nlocal_mx_ok=true\n',
    },
  })
  await haraka.waitForLog(/MTQP listening on/)
  // Local delivery with MTRK; a relayed message without MTRK but with an ENVID; a deferred and a rejected recipient
  // in one outbound message; a message the queue refuses.
  await send({
    from: `alice@${DOMAIN}`,
    to: ['bob@local.test'],
    mail: `ENVID=tracked@${DOMAIN} MTRK=${CERTIFIER}:86400`,
    messageId: `m1@${DOMAIN}`,
  })
  await send({
    from: `alice@${DOMAIN}`,
    to: ['Carol@Plain.Relay.Test'],
    mail: `ENVID=untracked@${DOMAIN}`,
    messageId: `m2@${DOMAIN}`,
  })
  await send({
    from: `dave@${DOMAIN}`,
    to: ['defer-x@plain.relay.test', 'reject-y@plain.relay.test'],
    messageId: `m3@${DOMAIN}`,
  })
  await send({ from: `erin@${DOMAIN}`, to: ['reject-z@local.test'], messageId: `m4@${DOMAIN}`, expect: 550 })
})

after(async () => {
  destroyMtqpClients()
  await haraka?.stop()
  await peer?.stop()
})

test('every message accepted is in the trace, MTRK or not; the body is not', async () => {
  const page = await waitFor(
    async () => {
      const p = await search('--from-domain', DOMAIN)
      return p.messages.length === 4 ? p : undefined
    },
    15000,
    'four traced messages',
  )
  assert.deepEqual(
    page.messages.map((m) => [m.messageId, m.tracked]),
    [
      [`m4@${DOMAIN}`, false],
      [`m3@${DOMAIN}`, false],
      [`m2@${DOMAIN}`, false],
      [`m1@${DOMAIN}`, true],
    ],
    'newest first',
  )
  const m2 = page.messages[2] as TracedMessage
  assert.equal(m2.from, `alice@${DOMAIN}`)
  assert.equal(m2.envid, `untracked@${DOMAIN}`)
  assert.equal(m2.clientIp, '127.0.0.1')
  assert.equal(m2.helo, 'client.trace.test')
  assert.equal(m2.reportingMta, 'mx.trace.test')
  assert.doesNotMatch(JSON.stringify(page), /never stored|trace test/, 'neither body nor Subject')
})

test('mail without MTRK is never answerable over MTQP, while the tracked message is', async () => {
  const c = await MtqpTestClient.connect(haraka.mtqpPort)
  await c.next()
  c.send(`TRACK untracked@${DOMAIN} ${SECRET}\r\n`)
  const noinfo = await c.next()
  assert.deepEqual([noinfo.indicator, noinfo.codes], ['-ERR', ['noinfo']])
  c.send(`TRACK tracked@${DOMAIN} ${SECRET}\r\n`)
  assert.equal((await c.next()).indicator, '+OK+')
})

test('each key finds its message: sender, recipient, domains, Message-ID, ENVID, queue ids, client IP, HELO', async () => {
  const m2 = only(await search('--message-id', `<m2@${DOMAIN}>`))
  // The outbound id uuid.N is indexed once a delivery attempt is recorded.
  const delivered = await waitFor(
    async () => {
      const m = only(await search('--message-id', `m2@${DOMAIN}`))
      return m.recipients[0]?.action === 'relayed' ? m : undefined
    },
    15000,
    'm2 relayed',
  )
  const hmailId = delivered.queueIds.find((q) => q !== m2.txn)
  assert.equal(hmailId, `${m2.txn}.1`)
  assert.match(haraka.logs(), new RegExp(`\\[${hmailId?.replace(/\./g, '\\.')}\\]`), 'the id Haraka logs')
  for (const args of [
    ['--to', 'carol@plain.relay.test', '--from-domain', DOMAIN],
    ['--to-domain', 'PLAIN.relay.test', '--from', `Alice@${DOMAIN}`],
    ['--envid', `untracked@${DOMAIN}`],
    ['--queue-id', m2.txn],
    ['--queue-id', hmailId as string],
    ['--ip', '127.0.0.1', '--message-id', `m2@${DOMAIN}`],
    ['--helo', 'CLIENT.trace.test', '--envid', `untracked@${DOMAIN}`],
  ]) {
    assert.equal(only(await search(...args)).txn, m2.txn, args.join(' '))
  }
  assert.deepEqual((await search('--from', `alice@${DOMAIN}`)).messages.length, 2)
  assert.deepEqual((await search('--from', `alice@${DOMAIN}`, '--since', 'now')).messages, [], 'time range')
  const row = (await trace(['--message-id', `m2@${DOMAIN}`])).stdout.split('\n')
  assert.match(row[0] ?? '', /^TIME +QUEUE ID +FROM +TO +STATE +STATUS +NEXT HOP +LAST REPLY$/)
  assert.match(
    row[1] ?? '',
    new RegExp(
      `Z +${m2.txn} +alice@${DOMAIN} +Carol@Plain\\.Relay\\.Test +relayed +2\\.1\\.9 +mx\\.plain\\.test +250 `,
    ),
  )
})

test('detail: every recipient with its attempts; the deferred one retried until it failed', async () => {
  const m3 = only(await search('--message-id', `m3@${DOMAIN}`))
  const shown = await waitFor(
    async () => {
      const r = await trace(['show', `${m3.txn}.1`, '--json'])
      const m = r.code === 0 ? (JSON.parse(r.stdout) as TracedMessage) : null
      return m?.recipients.every((x) => x.action === 'failed') ? m : undefined
    },
    40000,
    'both recipients failed',
  )
  const byAddress = Object.fromEntries(shown.recipients.map((r) => [r.address, r]))
  assert.deepEqual(
    byAddress['reject-y@plain.relay.test']?.history.map((h) => [h.action, h.status, h.host, h.code]),
    [['failed', '5.1.1', 'mx.plain.test', '550']],
  )
  assert.deepEqual(
    byAddress['defer-x@plain.relay.test']?.history.map((h) => [h.action, h.status, h.code]),
    [
      ['delayed', '4.3.0', '451'],
      ['delayed', '4.3.0', '451'],
      ['failed', '5.3.0', '451'],
    ],
  )
  const text = await trace(['show', m3.txn])
  assert.equal(text.code, 0)
  assert.match(text.stdout, new RegExp(`^Queue id: +${m3.txn} ${m3.txn}\\.1$`, 'm'))
  assert.match(text.stdout, /^To: defer-x@plain\.relay\.test$/m)
  assert.match(text.stdout, /^ {2}\S+Z +delayed +4\.3\.0 +mx\.plain\.test +451 4\.3\.0 /m)
  assert.match(text.stdout, /^ {2}\S+Z +failed +5\.1\.1 +mx\.plain\.test +550 5\.1\.1 no such user here$/m)
  const missing = await trace(['show', 'NOSUCH.1'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /no message with queue id NOSUCH\.1 is kept/)

  // The queue's refusal: the client got 550, the trace says failed with that reply.
  const m4 = only(await search('--message-id', `m4@${DOMAIN}`, '--outcome', 'failed'))
  assert.deepEqual(
    m4.recipients.map((r) => [r.action, r.history[0]?.code, r.history[0]?.reply]),
    [['failed', '550', '5.7.1 refused by the test queue']],
  )
})

test('outcome filter, paging with the printed cursor, CSV, and the summary counts', async () => {
  await waitFor(
    async () => (await search('--from-domain', DOMAIN, '--outcome', 'delayed')).messages.length === 0,
    40000,
    'nothing left queued',
  )
  const failed = await search('--from-domain', DOMAIN, '--outcome', 'failed')
  assert.deepEqual(
    failed.messages.map((m) => m.messageId),
    [`m4@${DOMAIN}`, `m3@${DOMAIN}`],
  )
  const first = await trace(['--from-domain', DOMAIN, '--limit', '3'])
  const more = /^more: mtrk-trace (.*) --cursor '([^']+)'$/m.exec(first.stderr)
  assert.ok(more, first.stderr)
  const second = await search('--from-domain', DOMAIN, '--limit', '3', '--cursor', more[2] as string)
  assert.deepEqual(
    second.messages.map((m) => m.messageId),
    [`m1@${DOMAIN}`],
  )
  assert.equal(second.next, null)
  assert.equal(first.stdout.split('\n').filter((l) => l.includes(DOMAIN)).length, 4, 'm3 has two rows')

  const csv = await trace(['--from-domain', DOMAIN, '--to-domain', 'plain.relay.test', '--csv'])
  const lines = csv.stdout.split('\r\n')
  assert.equal(lines[0], 'time,queue_id,from,to,state,status,next_hop,last_reply')
  assert.equal(lines.length, 5, 'three recipients and a final line end')

  const summary = await trace(['summary', '--since', '2h', '--json'])
  const s = JSON.parse(summary.stdout) as TraceSummary
  assert.deepEqual(s.total, { messages: 4, recipients: { delivered: 1, relayed: 1, failed: 3 } })
  const table = await trace(['summary', '--since', '2h'])
  assert.match(table.stdout, /^total +4 +3 +0 +1 +1 +0 +0$/m)
})

test('a connection uuid, as Haraka logs it, finds every message of that connection; show shows each', async () => {
  const domain = `c${process.pid}.connection.test`
  const { client } = await SmtpClient.connect(haraka.smtpPort)
  try {
    await client.cmd('EHLO client.trace.test')
    for (const n of [1, 2]) {
      assert.equal((await client.cmd(`MAIL FROM:<u${n}@${domain}>`)).code, 250)
      assert.equal((await client.cmd('RCPT TO:<bob@local.test>')).code, 250)
      assert.equal((await client.data(`Message-ID: <c${n}@${domain}>\n\nbody\n`)).code, 250)
    }
  } finally {
    client.close()
  }
  const page = await waitFor(
    async () => {
      const p = await search('--from-domain', domain)
      return p.messages.length === 2 ? p : undefined
    },
    15000,
    'two messages of one connection',
  )
  const uuid = (page.messages[0] as TracedMessage).txn.replace(/\.\d+$/, '')
  assert.match(haraka.logs(), new RegExp(`\\[${uuid}\\]`), 'the uuid Haraka logs for the connection')
  const byConnection = await search('--queue-id', uuid)
  assert.deepEqual(byConnection.messages.map((m) => m.txn).sort(), [`${uuid}.1`, `${uuid}.2`])
  assert.deepEqual(
    (await search('--queue-id', uuid, '--from', `u2@${domain}`)).messages.map((m) => m.txn),
    [`${uuid}.2`],
  )
  const shown = await trace(['show', uuid])
  assert.equal(shown.code, 0, shown.stderr)
  assert.deepEqual(
    [...shown.stdout.matchAll(/^Queue id: +(\S+)/gm)].map((m) => m[1]),
    [`${uuid}.1`, `${uuid}.2`],
    'each message, in the order they came',
  )
  const json = JSON.parse((await trace(['show', uuid, '--json'])).stdout) as TracedMessage[]
  assert.deepEqual(
    json.map((m) => m.messageId),
    [`c1@${domain}`, `c2@${domain}`],
  )
  const none = await trace(['show', '00000000-0000-4000-8000-000000000000'])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /no message of connection 00000000-0000-4000-8000-000000000000 is kept/)
})

test('a date-only --until takes in that whole day: --since D --until D finds the mail of day D', async () => {
  const m1 = only(await search('--message-id', `m1@${DOMAIN}`))
  const day = new Date(m1.arrival).toISOString().slice(0, 10)
  assert.equal(only(await search('--message-id', `m1@${DOMAIN}`, '--since', day, '--until', day)).txn, m1.txn)
})

test('bad input: a malformed filter names the option; an unreachable Redis is a message and exit 69', async () => {
  const bad = await trace(['--to', 'carol', '--since', '1h'])
  assert.equal(bad.code, 64)
  assert.match(bad.stderr, /^mtrk-trace: --to: "carol" is not an address \(local@domain\)$/m)
  const since = await trace(['--since', 'last tuesday'])
  assert.equal(since.code, 64)
  assert.match(since.stderr, /--since: "last tuesday" is not a time/)
  const closed = await freePort()
  const down = await trace(['--to', 'carol@x.test'], { MTRK_REDIS_URL: `redis://127.0.0.1:${closed}/0` })
  assert.equal(down.code, 69)
  assert.equal(
    down.stderr,
    `mtrk-trace: Redis at 127.0.0.1:${closed} is unreachable: connect ECONNREFUSED 127.0.0.1:${closed}\n`,
  )
  const help = await trace(['--help'])
  for (const option of [
    '--from',
    '--from-domain',
    '--to',
    '--to-domain',
    '--message-id',
    '--envid',
    '--queue-id',
    '--ip',
    '--helo',
    '--since',
    '--until',
    '--outcome',
    '--limit',
    '--cursor',
    '--json',
    '--csv',
    '--config',
  ])
    assert.match(help.stdout, new RegExp(`^ +(-c, )?${option} `, 'm'), option)
})
