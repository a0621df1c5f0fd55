// The mtqp command run in-process (main with injected I/O): help texts, argument errors, exit statuses, the
// secret hidden unless asked (URI-5). test/client/e2e.test.ts runs the real command against real relays.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { type CliIo, EXIT, main } from '../../src/client/cli'
import { type RunningServer, realServer, stored, TV1_ENVID, TV1_SECRET } from './servers'

interface Run {
  code: number
  out: string
  err: string
}

async function run(args: string[], stdin = '', stderrIsTTY = false): Promise<Run> {
  let out = ''
  let err = ''
  const io: CliIo = {
    stdout: (t) => {
      out += t
    },
    stderr: (t) => {
      err += t
    },
    readStdin: async () => stdin,
    env: {},
    stderrIsTTY,
  }
  const code = await main(args, io)
  return { code, out, err }
}

let server: RunningServer
let uri: string
before(async () => {
  server = await realServer({
    records: [
      stored('mx.a.test', [
        { address: 'alice@b.test', action: 'delivered', status: '2.5.0' },
        { address: 'bob@b.test', action: 'delayed', status: '4.4.1', willRetryUntil: Date.now() + 86400_000 },
      ]),
      stored(
        'mx.a.test',
        [{ address: 'carol@c.test', action: 'failed', status: '5.1.1' }],
        '2@h.example.com',
      ),
      stored(
        'mx.a.test',
        [{ address: 'jörg@mtrk.test', action: 'delivered', status: '2.0.0' }],
        '4@h.example.com',
      ),
    ],
  })
  uri = `mtqp://127.0.0.1:${server.port}/track/${TV1_ENVID}/${TV1_SECRET}`
})
after(() => server.close())

test('--help of every command is complete: every option it accepts is described', async () => {
  const track = await run(['track', '--help'])
  assert.equal(track.code, 0)
  for (const option of [
    '--server',
    '--mail-host',
    '--envid',
    '--secret',
    '--starttls',
    '--ca',
    '--insecure',
    '--tls-name',
    '--tofu-file',
    '--no-tofu',
    '--max-hops',
    '--no-follow',
    '--timeout',
    '--dns-server',
    '--json',
    '--show-secret',
    '--bracket-envid',
    '--help',
  ]) {
    assert.ok(track.out.includes(option), `track --help names ${option}`)
  }
  for (const code of ['0', '1', '2', '3', '4', '64'])
    assert.match(track.out, new RegExp(`^  ${code} +\\S`, 'm'), `exit ${code}`)
  const made = await run(['new', '-h'])
  assert.equal(made.code, 0)
  for (const option of ['--fqhn', '--timeout', '--server', '--json', '--help'])
    assert.ok(made.out.includes(option), option)
  assert.equal((await run(['help', 'track'])).out, track.out)
  assert.match((await run(['--help'])).out, /^Usage: mtqp <command>/)
})

test('wrong arguments exit 64 with the reason and where to read more', async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: mtqp/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['track'], /nothing to track/],
    [['track', '--bogus'], /^mtqp: unknown option --bogus\nTry "mtqp track --help"\.\n$/],
    [['new', '--fqhn'], /^mtqp: --fqhn needs a value\nTry "mtqp new --help"\.\n$/],
    [['track', 'http://x/track/a@b/QUJD'], /URI 1: not an mtqp:\/\/ URI/],
    [['track', '--server', 'h.example'], /--envid and --secret are both needed/],
    [
      ['track', '--server', 'h.example', '--envid', 'a@b', '--secret', 'not base64!'],
      /^mtqp: --secret is not base64\n/,
    ],
    [['track', uri, '--starttls', 'sometimes'], /--starttls must be one of off, opportunistic, required/],
    [['track', uri, '--timeout', '60'], /--timeout must be a whole number from 120/],
    [['track', uri, '--dns-server', 'ns.example:53'], /--dns-server must be an IP address/],
    [['track', uri, '--server', 'h.example'], /either mtqp URIs or --server/],
    [['track', uri, '--ca', '/nonexistent/ca.pem'], /cannot read --ca \/nonexistent\/ca\.pem/],
    [['new', '--fqhn', 'vm'], /not a fully qualified host name/],
    [['new', '--timeout', 'soon'], /--timeout must be a whole number from 0/],
  ]
  for (const [args, message] of cases) {
    const r = await run(args)
    assert.equal(r.code, EXIT.usage, args.join(' '))
    assert.match(r.err, message, args.join(' '))
    assert.ok(!r.err.includes(TV1_SECRET), 'URI-5: errors never echo the secret')
  }
})

test('mtqp new --json: the secret, certifier, envid, MAIL FROM parameters and URI', async () => {
  const r = await run([
    'new',
    '--fqhn',
    'client.example',
    '--server',
    'mtqp.example.net:11038',
    '--timeout',
    '3600',
    '--json',
  ])
  assert.equal(r.code, 0)
  const made = JSON.parse(r.out)
  assert.deepEqual(Object.keys(made), ['secret', 'certifier', 'envid', 'timeout', 'mailParameters', 'uri'])
  assert.equal(made.mailParameters, `ENVID=${made.envid} MTRK=${made.certifier}:3600`)
  assert.ok(made.uri.startsWith('mtqp://mtqp.example.net:11038/track/'))
})

test('mtqp track: the timeline per recipient, the secret hidden (URI-5); exit 1 while a recipient is queued', async () => {
  const r = await run(['track', uri, '--no-tofu'])
  assert.equal(r.code, EXIT.inTransit, r.err)
  assert.ok(!r.out.includes(TV1_SECRET))
  assert.ok(r.out.includes(`asked at mtqp://127.0.0.1:${server.port}/track/${TV1_ENVID}/***`))
  assert.match(
    r.out,
    /^alice@b\.test: delivered\n {2}1\. mx\.a\.test {2}arrived .*\n {5}delivered {3}2\.5\.0 Success: other or undefined protocol status$/m,
  )
  assert.match(r.out, /^bob@b\.test: in transit$/m)
  assert.match(r.out, /retrying until /)
  assert.match(
    r.out,
    /Tracking stops: the message is queued at mx\.a\.test, which keeps trying \(4\.4\.1 Persistent transient failure: no answer from host\)\./,
  )
  assert.match(r.out, /^State: in transit$/m)
  assert.ok((await run(['track', uri, '--no-tofu', '--show-secret'])).out.includes(uri))
})

test('mtqp track --json: the report as data; exits 2 when a recipient failed, 3 for noinfo, 4 when unreachable', async () => {
  const failed = uri.replace(TV1_ENVID, '2@h.example.com')
  const r = await run(['track', '--json', '--no-tofu', failed])
  assert.equal(r.code, EXIT.failed)
  const data = JSON.parse(r.out)
  assert.equal(data.state, 'failed')
  assert.equal(data.exitCode, 2)
  assert.equal(data.messages[0].asked, `mtqp://127.0.0.1:${server.port}/track/2@h.example.com/***`)
  assert.deepEqual(
    data.messages[0].recipients.map(
      (t: { recipient: { value: string }; state: string; steps: Array<{ statusText: string }> }) => [
        t.recipient.value,
        t.state,
        t.steps[0]?.statusText,
      ],
    ),
    [['carol@c.test', 'failed', 'Permanent failure: bad destination mailbox address']],
  )
  assert.equal(data.messages[0].hops[0].outcome.server.via, 'direct')

  const unknown = await run(['track', '--no-tofu', uri.replace(TV1_ENVID, '3@h.example.com')])
  assert.equal(unknown.code, EXIT.unknown)
  assert.match(
    unknown.out,
    /Nothing is known: 127\.0\.0\.1:\d+ has no information about this message \(-ERR\/noinfo\)\nCheck the envid and the secret/,
  )

  const down = await run(['track', '--no-tofu', `mtqp://127.0.0.1:1/track/${TV1_ENVID}/${TV1_SECRET}`])
  assert.equal(down.code, EXIT.queryFailed)
  assert.match(down.out, /Nothing is known: cannot connect to 127\.0\.0\.1:1: connect ECONNREFUSED/)
})

test('mtqp track shows an internationalised address decoded, as mtrk-trace does, not in its 7-bit form', async () => {
  const r = await run(['track', '--no-tofu', uri.replace(TV1_ENVID, '4@h.example.com')])
  assert.equal(r.code, EXIT.delivered, r.err)
  assert.match(r.out, /^jörg@mtrk\.test: delivered$/m)
  assert.doesNotMatch(r.out, /x\{F6\}/)
  const json = await run(['track', '--no-tofu', '--json', uri.replace(TV1_ENVID, '4@h.example.com')])
  assert.match(json.out, /j\\\\x\{F6\}rg@mtrk\.test/, 'the data as the report carried it')
})

test('several messages: one report each; the exit status is the most pressing of them', async () => {
  const r = await run(['track', '--no-tofu', '-'], `${uri}\n${uri.replace(TV1_ENVID, '2@h.example.com')}\n`)
  assert.equal(r.code, EXIT.failed)
  assert.equal(r.out.match(/^Message /gm)?.length, 2)
  const json = await run(
    ['track', '--no-tofu', '--json', '-'],
    `${uri}\n${uri.replace(TV1_ENVID, '2@h.example.com')}\n`,
  )
  const data = JSON.parse(json.out)
  assert.deepEqual([data.state, data.exitCode, data.messages.length], ['failed', 2, 2])
})

test('--server with --secret - reads the secret from standard input, out of the process list (SEC-3)', async () => {
  const r = await run(
    ['track', '--no-tofu', '--server', `127.0.0.1:${server.port}`, '--envid', TV1_ENVID, '--secret', '-'],
    `${TV1_SECRET}\n`,
  )
  assert.equal(r.code, EXIT.inTransit, r.err)
  assert.ok(r.out.startsWith(`Message ${TV1_ENVID}, asked at 127.0.0.1:${server.port}\n`))
})

test('on a terminal, stderr shows each server as it is asked and as it answers; nothing when it is not one', async () => {
  const tty = await run(['track', '--no-tofu', uri], '', true)
  assert.equal(tty.code, EXIT.inTransit, tty.err)
  assert.equal(
    tty.err.replace(/:\d+/g, ':PORT'),
    '1. asking 127.0.0.1:PORT ...\n1. 127.0.0.1:PORT (as given; no TLS): 1 report\n',
  )
  const several = await run(
    ['track', '--no-tofu', '-'],
    `${uri}\n${uri.replace(TV1_ENVID, '3@h.example.com')}\n`,
    true,
  )
  assert.match(several.err, /^\[2\] 1\. 127\.0\.0\.1:\d+ \(as given\): no answer: .*noinfo/m)
  const piped = await run(['track', '--no-tofu', uri])
  assert.equal(piped.code, EXIT.inTransit)
  assert.equal(piped.err, '')
})
