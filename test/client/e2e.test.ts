// The mtqp command as a user runs it (a spawned `node bin/mtqp.js`, real TCP and TLS) against three real Haraka
// relays with the plugin, each with its own certificate and store, found through a real DNS server (dnsmasq)
// answering the SRV records. The message is really sent and relayed: the sender makes its parameters with
// `mtqp new` and submits it to A, which relays alice's copy to B (delivered there) and carol's to C (which relays it
// on to a mailer without MTRK or DSN). A fourth Haraka shares A's store with [mtqp] chaining on. Tests run in
// order: later ones restart and stop relays.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { makeCertificate, type TestCertificate } from '../helpers/cert'
import { type Ran as Command, runCommand } from '../helpers/command'
import { type DnsServer, startDns } from '../helpers/dns'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { type Peer, startPeer } from '../helpers/peer'
import { freePort, waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'
import { openStore } from '../helpers/store'
import { type ScriptedServer, scriptedServer } from './servers'

interface Made {
  secret: string
  certifier: string
  envid: string
  mailParameters: string
  uri: string
}

/** A run of the command, and how long it took (ms). */
type Ran = Command & { ms: number }

const work = mkdtempSync(join(tmpdir(), 'mtqp-e2e-'))
const tofuFile = join(work, 'known-servers.json')
const caFile = join(work, 'relays-ca.pem')
const certs: Record<string, TestCertificate> = {}

/** Runs `mtqp <args>` as a separate process, with `stdin` as its standard input. */
async function mtqp(args: string[], stdin = ''): Promise<Ran> {
  const started = Date.now()
  const r = await runCommand('mtqp', args, { TZ: 'UTC', MTQP_TOFU_FILE: tofuFile }, stdin)
  return { ...r, ms: Date.now() - started }
}

/** Waits until Haraka has logged `re` one more time than `before`. */
async function logsAgain(h: HarakaInstance, re: RegExp, before: number): Promise<void> {
  const count = () => h.logs().match(new RegExp(re.source, 'g'))?.length ?? 0
  await waitFor(() => count() > before, 15000, `${re} again`)
}

async function restart(h: HarakaInstance, change: () => void): Promise<void> {
  const before = h.logs().match(/MTQP listening/g)?.length ?? 0
  await h.stop()
  change()
  await h.start()
  await logsAgain(h, /MTQP listening/, before)
}

/** Plugins of a relay whose outbound goes where config/test_mx.json says (test/fixtures/haraka/plugins). */
const RELAYING = ['test_rcpt', 'mtrk', 'test_queue', 'test_mx']

/** test_mx routes, {domain: [port, MX name]}: the MX name is what Remote-MTA shows. */
function routes(table: Record<string, [number, string]>): Record<string, string> {
  const json = Object.fromEntries(Object.entries(table).map(([d, [port, name]]) => [d, { port, name }]))
  return { 'test_mx.json': JSON.stringify(json), 'outbound.ini': 'local_mx_ok=true\n' }
}

function tlsFiles(cert: TestCertificate): Record<string, string> {
  return { 'tls_key.pem': cert.key.toString(), 'tls_cert.pem': cert.cert.toString() }
}

describe('mtqp track against real relays (A transfers to B and C)', () => {
  let redisPort: number
  let a: HarakaInstance
  let b: HarakaInstance
  let c: HarakaInstance
  let gw: HarakaInstance
  let dns: DnsServer
  let slow: ScriptedServer
  let peer: Peer
  let made: Made
  let slowEnvid: string
  /** Options every run shares: the local DNS server, the relays' certificates, the TOFU file (via env). */
  let common: string[]

  before(async () => {
    redisPort = await sharedRedisPort()
    for (const name of ['a', 'b', 'c', 'gw']) certs[name] = makeCertificate([`mtqp.${name}.test`])
    certs.c2 = makeCertificate(['mtqp.c.test'])
    writeFileSync(
      caFile,
      Object.values(certs)
        .map((x) => x.cert.toString())
        .join(''),
    )
    // Next hops without this plugin: one that speaks MTRK (mx.slow.test), one that speaks neither MTRK nor DSN.
    peer = await startPeer([
      { name: 'mtrk', ehlo: ['ENHANCEDSTATUSCODES', 'DSN', 'MTRK'] },
      { name: 'plain', ehlo: ['ENHANCEDSTATUSCODES'] },
    ])
    const relay = (
      name: string,
      files: Record<string, string>,
      plugins = ['test_rcpt', 'mtrk', 'test_queue'],
    ) =>
      startHaraka({
        redisPort,
        me: `mx.${name}.test`,
        plugins,
        files: { ...tlsFiles(certs[name]!), ...files },
        mtrk: { mtqp: {} },
      })
    // B delivers b.relay.test itself; C relays c.relay.test on to the plain peer (mx.legacy.test).
    ;[b, c] = await Promise.all([
      relay('b', { test_local_domains: 'b.relay.test\n' }),
      relay('c', { ...routes({ 'c.relay.test': [peer.ports.plain!, 'mx.legacy.test'] }) }, RELAYING),
    ])
    // A relays to B, to C and to the MTRK peer, all of which advertise MTRK: A records them `transferred`.
    a = await relay(
      'a',
      routes({
        'b.relay.test': [b.smtpPort, 'mx.b.test'],
        'c.relay.test': [c.smtpPort, 'mx.c.test'],
        'slow.relay.test': [peer.ports.mtrk!, 'mx.slow.test'],
        'sender.example': [peer.ports.plain!, 'mx.sender.test'],
      }),
      RELAYING,
    )
    // A tracking server that takes 3 s to say it is busy: longer than the gateway's chain_timeout below.
    slow = await scriptedServer('+OK/MTQP MTQP server ready\r\n', (lines, socket) => {
      if (lines.at(-1) === 'QUIT') setTimeout(() => socket.end('-TEMP/unavailable busy\r\n+OK bye\r\n'), 3000)
      return null
    })
    const dead = await freePort()
    dns = await startDns({
      zones: ['test'],
      srv: [
        { name: '_mtqp._tcp.mx.b.test', target: 'mtqp.b.test', port: b.mtqpPort },
        // MTQPC-1 / RFC 2782: the preferred target is down, so the client must fall over to the next one.
        { name: '_mtqp._tcp.mx.c.test', target: 'dead.c.test', port: dead, priority: 10 },
        { name: '_mtqp._tcp.mx.c.test', target: 'mtqp.c.test', port: c.mtqpPort, priority: 20 },
        { name: '_mtqp._tcp.mx.slow.test', target: 'mtqp.slow.test', port: slow.port },
      ],
    })
    gw = await startHaraka({
      redisPort,
      me: 'mx.a.test',
      prefix: a.prefix,
      files: { ...tlsFiles(certs.gw!), 'relays-ca.pem': readFileSync(caFile, 'utf8') },
      mtrk: {
        mtqp: {
          chaining: true,
          chain_dns_servers: dns.address,
          chain_ca: 'config/relays-ca.pem',
          chain_timeout: 1,
        },
      },
    })
    common = ['--dns-server', dns.address, '--ca', caFile]

    // The sender prepares the message with `mtqp new` and sends it to A with the parameters it printed.
    const created = await mtqp([
      'new',
      '--fqhn',
      'sender.example',
      '--server',
      `mtqp.a.test:${a.mtqpPort}`,
      '--json',
    ])
    assert.equal(created.code, 0, created.stderr)
    made = JSON.parse(created.stdout) as Made
    slowEnvid = `slow-${made.envid}`
    await send(made.mailParameters, ['alice@b.relay.test', 'carol@c.relay.test'])
    await send(made.mailParameters.replace(`ENVID=${made.envid}`, `ENVID=${slowEnvid}`), [
      'dave@slow.relay.test',
    ])
    await relayed(a, made.envid, { 'alice@b.relay.test': 'transferred', 'carol@c.relay.test': 'transferred' })
    await relayed(b, made.envid, { 'alice@b.relay.test': 'delivered' })
    await relayed(c, made.envid, { 'carol@c.relay.test': 'relayed' })
    await relayed(a, slowEnvid, { 'dave@slow.relay.test': 'transferred' })
  })

  after(async () => {
    await Promise.all([a, b, c, gw].map((h) => h?.stop()))
    await Promise.all([dns?.stop(), slow?.close(), peer?.stop()])
    for (const x of Object.values(certs)) x.remove()
    rmSync(work, { recursive: true, force: true })
  })

  /** Sends one message to A over SMTP: MAIL FROM with `params`, each recipient with its own ORCPT. */
  async function send(params: string, to: string[]): Promise<void> {
    const { client } = await SmtpClient.connect(a.smtpPort)
    try {
      assert.equal((await client.cmd('EHLO client.sender.example')).code, 250)
      const mail = await client.cmd(`MAIL FROM:<sender@sender.example> ${params}`)
      assert.equal(mail.code, 250, mail.text)
      for (const rcpt of to) {
        const r = await client.cmd(`RCPT TO:<${rcpt}> NOTIFY=FAILURE ORCPT=rfc822;${rcpt}`)
        assert.equal(r.code, 250, r.text)
      }
      const data = await client.data('Subject: tracked\n\nhello\n')
      assert.equal(data.code, 250, data.text)
    } finally {
      client.close()
    }
  }

  /** Waits until a relay has recorded each recipient with the given action. */
  async function relayed(h: HarakaInstance, envid: string, want: Record<string, string>): Promise<void> {
    const store = await openStore(redisPort, h.prefix)
    try {
      await waitFor(
        async () => {
          const records = await store.lookup(envid)
          const got = Object.fromEntries(
            records.flatMap((m) => m.recipients.map((r) => [r.address, r.action])),
          )
          return Object.entries(want).every(([rcpt, action]) => got[rcpt] === action)
        },
        30000,
        `${h.me} to record ${JSON.stringify(want)}`,
      )
    } finally {
      await store.close()
    }
  }

  test('mtqp new: the secret, ENVID, MAIL FROM parameters and URI a sender keeps (SEC-1, MTRK-23)', async () => {
    assert.match(made.secret, /^[A-Za-z0-9+/]{32}$/)
    assert.match(made.envid, /^[0-9a-z]+\.[0-9a-f]{16}@sender\.example$/)
    assert.equal(made.mailParameters, `ENVID=${made.envid} MTRK=${made.certifier}:864000`)
    const human = await mtqp(['new', '--fqhn', 'sender.test', '--server', 'mtqp.a.test'])
    assert.equal(human.code, 0)
    assert.match(
      human.stdout,
      /^Secret A \(keep it private: whoever holds it can track the message\):\n {2}\S{32}\n/,
    )
    assert.match(human.stdout, /\n {2}mtqp track 'mtqp:\/\/mtqp\.a\.test\/track\/\S+@sender\.test\/\S+'\n$/)
  })

  test('MTQPC-1 / MTQPC-6: the timeline across A, B and C, each found by SRV, over verified TLS; exit 0', async () => {
    const r = await mtqp(['track', ...common, made.uri])
    assert.equal(r.code, 0, r.stderr + r.stdout)
    assert.equal(r.stderr, '')
    const out = r.stdout
    assert.ok(
      out.startsWith(
        `Message ${made.envid}, asked at mtqp://mtqp.a.test:${a.mtqpPort}/track/${made.envid}/***\n`,
      ),
    )
    assert.ok(!out.includes(made.secret), 'URI-5')
    assert.match(
      out,
      // AMB-40: each step says why, with the reply the next hop gave.
      /\nalice@b\.relay\.test: delivered\n {2}1\. mx\.a\.test {2}arrived .*\n {5}transferred 2\.4\.0 Success: other or undefined network or routing status\n {17}to mx\.b\.test, last attempt .*\n {17}said: smtp; 250 accepted by the test queue .*\n {2}2\. mx\.b\.test {2}arrived .*\n {5}delivered {3}2\.5\.0 Success: other or undefined protocol status\n {17}last attempt .*\n {2}Tracking stops: mx\.b\.test delivered the message to alice@b\.relay\.test\.\n/,
    )
    assert.match(
      out,
      /\ncarol@c\.relay\.test: relayed beyond tracking .*\n[\s\S]*2\. mx\.c\.test {2}arrived .*\n {5}relayed {5}2\.1\.9 Success: message relayed to non-compliant mailer\n {17}to mx\.legacy\.test, .*\n {17}said: smtp; 250 2\.6\.0 queued\n {2}Tracking stops: mx\.c\.test relayed the message to mx\.legacy\.test, which does not support tracking/,
    )
    assert.ok(
      out.includes(
        `  1. mtqp.a.test:${a.mtqpPort} 127.0.0.1 (as given; TLSv1.3, certificate verified): 1 report\n`,
      ),
    )
    assert.ok(
      out.includes(
        `  2. mtqp.b.test:${b.mtqpPort} 127.0.0.1 (SRV _mtqp._tcp.mx.b.test; TLSv1.3, certificate verified): 1 report\n`,
      ),
    )
    assert.ok(
      out.includes(
        `  3. mtqp.c.test:${c.mtqpPort} 127.0.0.1 (SRV _mtqp._tcp.mx.c.test; TLSv1.3, certificate verified): 1 report\n`,
      ),
    )
    assert.ok(
      out.endsWith('\nState: relayed beyond tracking (passed to a mailer that does not track messages)\n'),
    )
  })

  test('--json: the same timeline as data for scripts', async () => {
    const r = await mtqp(['track', ...common, '--json', made.uri])
    assert.equal(r.code, 0, r.stderr)
    const data = JSON.parse(r.stdout)
    assert.equal(data.exitCode, 0)
    assert.equal(data.state, 'relayed')
    assert.deepEqual(data.warnings, [])
    const [report] = data.messages
    assert.equal(report.envid, made.envid)
    assert.deepEqual(
      report.recipients.map(
        (t: {
          recipient: { value: string }
          state: string
          steps: Array<{ reportingMta: { value: string }; action: string; status: string; hop: number }>
        }) => [
          t.recipient.value,
          t.state,
          t.steps.map((s) => `${s.hop} ${s.reportingMta.value} ${s.action} ${s.status}`),
        ],
      ),
      [
        ['alice@b.relay.test', 'delivered', ['0 mx.a.test transferred 2.4.0', '1 mx.b.test delivered 2.5.0']],
        ['carol@c.relay.test', 'relayed', ['0 mx.a.test transferred 2.4.0', '2 mx.c.test relayed 2.1.9']],
      ],
    )
    const hop2 = report.hops[2]
    assert.deepEqual(hop2.target, { kind: 'mta', host: 'mx.c.test' })
    assert.equal(
      hop2.outcome.server.name,
      'mtqp.c.test',
      'RFC 2782: the unreachable dead.c.test was passed over',
    )
    assert.equal(typeof report.recipients[0].steps[1].arrivalDate, 'string')
  })

  test('MTQPC-1: --mail-host asks the tracking server a relay publishes by SRV; the secret read from stdin', async () => {
    const r = await mtqp(
      ['track', ...common, '--mail-host', 'mx.b.test', '--envid', made.envid, '--secret', '-'],
      made.secret,
    )
    assert.equal(r.code, 0, r.stderr + r.stdout)
    assert.ok(r.stdout.startsWith(`Message ${made.envid}, asked at the tracking server of mx.b.test\n`))
    assert.ok(
      r.stdout.includes(
        `  1. mtqp.b.test:${b.mtqpPort} 127.0.0.1 (SRV _mtqp._tcp.mx.b.test; TLSv1.3, certificate verified)`,
      ),
    )
    assert.match(r.stdout, /\nalice@b\.relay\.test: delivered\n/)
  })

  test('MTQP-30..33: with chaining on A, one answer holds B and C reports; the client asks nobody else', async () => {
    const uri = made.uri.replace(`mtqp.a.test:${a.mtqpPort}`, `mtqp.gw.test:${gw.mtqpPort}`)
    const r = await mtqp(['track', ...common, '--json', uri])
    assert.equal(r.code, 0, r.stderr)
    const [report] = JSON.parse(r.stdout).messages
    assert.equal(report.hops.length, 1)
    assert.deepEqual(
      report.hops[0].outcome.parts.map((p: { reportingMta: { value: string } }) => p.reportingMta.value),
      ['mx.a.test', 'mx.b.test', 'mx.c.test'],
    )
    assert.deepEqual(
      report.recipients.map((t: { state: string }) => t.state),
      ['delivered', 'relayed'],
    )
    const text = await mtqp(['track', ...common, uri])
    assert.match(
      text.stdout,
      new RegExp(`2\\. mx\\.b\\.test {2}arrived .* \\(chained by mtqp\\.gw\\.test:${gw.mtqpPort}\\)`),
    )
  })

  test('MTQP-31 / AMB-25: a chained hop slower than chain_timeout: the gateway answers in time with its own part', async () => {
    const uri = `mtqp://mtqp.gw.test:${gw.mtqpPort}/track/${slowEnvid}/${encodeURIComponent(made.secret)}`
    const r = await mtqp(['track', ...common, '--starttls', 'off', '--json', uri])
    const [report] = JSON.parse(r.stdout).messages
    // The gateway gave up after 1 s; the client then asked mx.slow.test itself, which said -TEMP after 3 s.
    assert.equal(report.hops[0].outcome.parts.length, 1)
    assert.equal(report.hops[1].outcome.failure, 'temporary')
    assert.match(report.recipients[0].end, /^mx\.slow\.test cannot answer now; try again later/)
    assert.equal(r.code, 3)
    await logsAgain(gw, /no answer within 1000 ms; answering with this server's report/, 0)
  })

  test("RFC 3887 §11: a relay's certificate changes between two runs: a loud warning, tracking goes on", async () => {
    await restart(c, () => {
      writeFileSync(join(c.dir, 'config', 'tls_key.pem'), certs.c2!.key)
      writeFileSync(join(c.dir, 'config', 'tls_cert.pem'), certs.c2!.cert)
    })
    const r = await mtqp(['track', ...common, made.uri])
    assert.equal(r.code, 0)
    assert.match(
      r.stderr,
      new RegExp(
        `^WARNING: the TLS certificate of mtqp\\.c\\.test:${c.mtqpPort} has changed \\(was SHA-256 [0-9A-F:]+, now [0-9A-F:]+\\)`,
      ),
    )
    const again = await mtqp(['track', ...common, made.uri])
    assert.equal(again.stderr, '', 'the renewed certificate is remembered')
  })

  test('RFC 3887 §11: a relay that offered STARTTLS stops offering it: a loud warning on every run', async () => {
    assert.equal((await mtqp(['track', ...common, made.uri])).stderr, '', 'B is known to offer STARTTLS')
    // Haraka reloads mtrk.ini and the plugin restarts its listener with the new options.
    const listening = b.logs().match(/MTQP listening/g)?.length ?? 0
    const ini = join(b.dir, 'config', 'mtrk.ini')
    writeFileSync(ini, readFileSync(ini, 'utf8').replace('[mtqp]\n', '[mtqp]\nstarttls=off\n'))
    await logsAgain(b, /MTQP listening/, listening)
    for (let run = 0; run < 2; run++) {
      const r = await mtqp(['track', ...common, '--json', made.uri])
      assert.equal(JSON.parse(r.stdout).warnings.length, 1)
    }
    const required = await mtqp(['track', ...common, '--starttls', 'required', made.uri])
    assert.equal(required.code, 3)
    assert.match(
      required.stdout,
      /Tracking stops: the tracking server of mx\.b\.test could not be asked: mtqp\.b\.test:\d+ does not offer STARTTLS, and STARTTLS is required\./,
    )
  })

  test('MTQPC-6: B stopped: a partial result that says where and why tracking stops; exit 3 (unknown)', async () => {
    await b.stop()
    for (const host of [`mtqp.a.test:${a.mtqpPort}`, `mtqp.gw.test:${gw.mtqpPort}`]) {
      const r = await mtqp(['track', ...common, made.uri.replace(`mtqp.a.test:${a.mtqpPort}`, host)])
      assert.equal(r.code, 3, r.stdout)
      assert.match(
        r.stdout,
        new RegExp(
          `\\nalice@b\\.relay\\.test: unknown\\n[\\s\\S]*to mx\\.b\\.test, .*\\n {17}said: .*\\n {2}Tracking stops: the tracking server of mx\\.b\\.test could not be asked: cannot connect to mtqp\\.b\\.test:${b.mtqpPort} \\(127\\.0\\.0\\.1\\): connect ECONNREFUSED`,
        ),
      )
      assert.match(
        r.stdout,
        /\ncarol@c\.relay\.test: relayed beyond tracking/,
        'the other branch is still followed',
      )
      assert.match(r.stdout, /\nState: unknown\n$/)
      assert.ok(
        r.stdout.includes(
          `. mtqp.b.test:${b.mtqpPort} 127.0.0.1 (SRV _mtqp._tcp.mx.b.test): no answer: cannot connect to mtqp.b.test:`,
        ),
        'a server never reached is not described as a plaintext session',
      )
    }
  })
})
