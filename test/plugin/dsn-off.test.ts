// [dsn] enabled=false: EHLO advertises neither DSN nor MTRK, so the relay answers their parameters as Haraka without
// the plugin does (AMB-38: Haraka alone takes them; Postfix with DSN off refuses them with 501 5.7.1, a policy of its
// own, not a refusal RFC 3461 requires), and acts on none: no tracking, nothing passed on to the next hop. The
// operator trace, which does not depend on DSN, still records the message.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { trackMessage } from '../../src/client/index'
import { REFUSALS } from '../../src/esmtp/acceptance'
import { openTrace, readMtrkIni } from '../../src/trace/index'
import { CORPUS } from '../esmtp/lines'
import { explainedBy, type HarakaInstance, startHaraka } from '../helpers/haraka'
import { type Peer, startPeer } from '../helpers/peer'
import { waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { type Reply, SmtpClient } from '../helpers/smtp'
import { openStore } from '../helpers/store'
import { send } from '../relay/relaying'

const CERTIFIER = 'VheLhqV/rCKJmplkGFwsyW59pYk' // TV-1
const SECRET = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')

// *.relay.test goes out through Haraka's outbound (test_rcpt), anything else is taken for the local queue.
let peer: Peer
let off: HarakaInstance
let plain: HarakaInstance

before(async () => {
  const redisPort = await sharedRedisPort()
  // A next hop that offers DSN: with [dsn] on, the relay would pass ENVID, RET, MTRK, NOTIFY and ORCPT on to it.
  peer = await startPeer([{ name: 'dsn', ehlo: ['ENHANCEDSTATUSCODES', 'DSN', 'MTRK'] }])
  const files = {
    'test_mx.json': JSON.stringify({ 'dsn.relay.test': { port: peer.ports.dsn, name: 'mx.dsn.test' } }),
    'outbound.ini': 'local_mx_ok=true\n',
  }
  ;[off, plain] = await Promise.all([
    startHaraka({
      redisPort,
      plugins: ['test_rcpt', 'test_rcpt_all', 'mtrk', 'test_queue', 'test_mx'],
      files,
      mtrk: { dsn: { enabled: false } },
    }),
    startHaraka({ redisPort, plugins: ['test_rcpt', 'test_rcpt_all', 'test_queue'] }),
  ])
})
after(async () => {
  await Promise.all([off?.stop(), plain?.stop()])
  await peer?.stop()
})

const explained = explainedBy(() => off)

/** The reply to one line, in a fresh session: EHLO, for a RCPT line a MAIL first, then the line. */
async function replyTo(port: number, line: string): Promise<Reply> {
  const { client } = await SmtpClient.connect(port)
  try {
    assert.equal((await client.cmd('EHLO client.test')).code, 250)
    if (/^rcpt/i.test(line)) assert.equal((await client.cmd('MAIL FROM:<s@example.org> SMTPUTF8')).code, 250)
    return await client.cmd(line)
  } finally {
    client.close()
  }
}

test('AMB-38: DSN and MTRK parameters, well-formed or not, are answered as Haraka without the plugin answers them', async (t) => {
  // Left out: unknown parameters (refused by reject_unknown_params, DSN or not) and padded MTRK certifiers (AMB-2:
  // accepted where Haraka alone refuses them, the plugin's one change to Haraka's parser).
  const lines = CORPUS.filter((c) => c.expect !== 'unknown' && c.expect !== 'amb2')
  const problems: string[] = []
  let refusedWithDsn = 0
  for (const { line, expect } of lines) {
    const [without, withOff] = await Promise.all([replyTo(plain.smtpPort, line), replyTo(off.smtpPort, line)])
    if (expect in REFUSALS) refusedWithDsn++
    if (without.code !== withOff.code || without.text !== withOff.text)
      problems.push(
        `${line}\n    without: ${without.code} ${without.text}\n    dsn off: ${withOff.code} ${withOff.text}`,
      )
  }
  t.diagnostic(`${lines.length} lines, ${refusedWithDsn} of them refused while [dsn] is on`)
  assert.ok(refusedWithDsn > 0)
  assert.deepEqual(problems, [])
})

test(
  'a message sent with ENVID, RET, MTRK, NOTIFY and ORCPT: not tracked, none passed on, in the operator trace',
  explained(async () => {
    const envid = `off-${process.pid}@sender.example`
    await send(off.smtpPort, 'alice@sender.example', `ENVID=${envid} RET=HDRS MTRK=${CERTIFIER}`, [
      { to: 'bob@dsn.relay.test', params: 'NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@dsn.relay.test' },
    ])
    const [session] = await peer.waitForSessions('dsn', /RCPT TO:<bob@dsn\.relay\.test>/)
    const mail = session?.find((l) => /^MAIL FROM:/i.test(l))
    const rcpt = session?.find((l) => /^RCPT TO:/i.test(l))
    assert.equal(mail, 'MAIL FROM:<alice@sender.example>')
    assert.equal(rcpt, 'RCPT TO:<bob@dsn.relay.test>')

    // In the operator trace, under its sender.
    const { config } = readMtrkIni(join(off.dir, 'config', 'mtrk.ini'))
    const trace = await openTrace(config)
    try {
      const query = trace.query({ from: 'alice@sender.example' })
      assert.ok(query.ok)
      const page = await waitFor(
        async () => {
          const p = await trace.search(query.value)
          return p.messages.length === 1 ? p : undefined
        },
        15000,
        'the message in the trace',
      )
      assert.equal(page.messages[0]?.tracked, false)
    } finally {
      await trace.close()
    }
    // No tracking record: the store knows no such envid, and MTQP answers as for any unknown message.
    const store = await openStore(config.redis.port, off.prefix)
    try {
      assert.deepEqual(await store.lookup(envid), [])
    } finally {
      await store.close()
    }
    const report = await trackMessage(
      { kind: 'server', host: '127.0.0.1', port: off.mtqpPort },
      { envid, secret: SECRET },
      { follow: false, starttls: 'off' },
    )
    const outcome = report.hops[0]?.outcome
    assert.equal(outcome?.kind === 'failed' && outcome.failure, 'noinfo', JSON.stringify(outcome))
  }),
)

// Last: it changes the instance's config. Haraka registers hooks once, so the report hooks a relay started without
// cannot come by reload: advertising DSN then would promise reports that Haraka's own bounces replace.
test(
  'turned on by reload, [dsn] waits for a restart: EHLO still offers neither DSN nor MTRK, and the log says why',
  explained(async () => {
    const ini = join(off.dir, 'config', 'mtrk.ini')
    writeFileSync(ini, readFileSync(ini, 'utf8').replace(/enabled=false/, 'enabled=true'))
    await off.waitForLog(/Reloaded file: .*mtrk\.ini/, 15000)
    const { client } = await SmtpClient.connect(off.smtpPort)
    try {
      const ehlo = await client.cmd('EHLO client.test')
      assert.equal(ehlo.code, 250)
      assert.doesNotMatch(ehlo.text, /^(DSN|MTRK)\b/m)
      const mail = await client.cmd('MAIL FROM:<s@example.org> ENVID=reload@example.org RET=BOGUS')
      assert.equal(mail.code, 250, 'its parameters are still ignored, as Haraka without the plugin does')
    } finally {
      client.close()
    }
    assert.match(off.logs(), /\[dsn\] enabled=true takes effect at the next restart/)
  }),
)
