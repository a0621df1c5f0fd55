// The MTQP session state machine, driven without sockets: transcripts are compared byte for byte. Transport
// actions appear in the transcript as <start-tls> and <close>.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { StoredMessage, StoredRecipient } from '../../src/model/records'
import { parseCommand } from '../../src/mtqp/command'
import { LineDecoder } from '../../src/mtqp/framing'
import { ResponseDecoder } from '../../src/mtqp/response'
import {
  type ChainFn,
  type ChainRequest,
  connectionLimitGreeting,
  MtqpSession,
  type SessionConfig,
  type SessionOptions,
  type TrackBudget,
} from '../../src/server/session'
import { countingBudget, memoryBudget } from '../helpers/budget'
import { feedThreeWaysAsync } from '../helpers/chunking'
import { message, recipient } from '../store/fixtures'

const ARRIVAL = Date.UTC(2001, 0, 1, 20, 15, 15) // Mon, 1 Jan 2001 15:15:15 -0500, the RFC 3887 examples' date
const NOW = ARRIVAL + 3600_000
const DAY = 86400_000
/** randomBytes is fixed, so every TRACK body has this boundary. */
const B = `mtrk-${'ab'.repeat(16)}`

/** TV-1, and TV-3 (RFC 3887's own secret YWJjZGVmZ2gK = "abcdefgh\n" with the certifier that really matches). */
const TV1 = { secret: 'AAECAwQFBgcICQoLDA0ODw', certifier: 'VheLhqV/rCKJmplkGFwsyW59pYk' }
const TV3 = { secret: 'YWJjZGVmZ2gK', certifier: '5BSvcWHJVUCJ9BBtbxeX7xSnNmY' }
/** RFC 3887 example #13/#14's second secret, QUJDREVGR0gK = "ABCDEFGH\n", and SHA-1 of that. */
const RFC_SECOND = { secret: 'QUJDREVGR0gK', certifier: 'MlcpQ+UWeGti/yQmdFVHsnDZ0IY' }

function record(
  envid: string,
  certifier: string,
  recipients: StoredRecipient[],
  over: Partial<StoredMessage> = {},
) {
  return {
    ...message({
      envid,
      envidXtext: envid,
      certifier,
      arrival: ARRIVAL,
      reportingMta: 'example2.com',
      retention: 864000,
    }),
    recipients,
    ...over,
  }
}

const user1 = (over: Partial<StoredRecipient>) =>
  recipient({
    address: 'user1@example1.com',
    orcpt: 'rfc822;user1@example1.com',
    keepUntil: ARRIVAL + 10 * DAY,
    ...over,
  })

/** RFC 3887 example #6, with the TV-3 certifier (ERR-3887-1). */
const EX6 = record('12345-20010101@example.com', TV3.certifier, [
  user1({ action: 'delivered', status: '2.5.0' }),
])
/** RFC 3887 example #7: Remote-MTA and Last-Attempt-Date at Mon, 1 Jan 2001 19:15:03 -0500. */
const EX7 = record('12345-20010101@example.com', TV3.certifier, [
  user1({
    action: 'transferred',
    status: '2.4.0',
    remoteMta: 'example3.com',
    lastAttempt: Date.UTC(2001, 0, 2, 0, 15, 3),
  }),
])
const TV7 = record('1@h.example.com', TV1.certifier, [
  recipient({
    action: 'transferred',
    status: '2.4.0',
    remoteMta: 'mx2.example.net',
    lastAttempt: Date.UTC(2001, 0, 1, 20, 16, 0),
    keepUntil: ARRIVAL + DAY,
  }),
])

/** A monotonic instant with a fraction of a millisecond, as performance.now() gives. */
const MONOTONIC_START = 1234.5678

const lines = (...ls: string[]) => ls.map((l) => `${l}\r\n`).join('')

const GREETING = lines('+OK+/MTQP MTQP server ready', 'STARTTLS', '.')
const GREETING_PLAIN = lines('+OK/MTQP MTQP server ready')
const NOINFO = lines('-ERR/noinfo No tracking information available')

/** The TRACK reply around the given part bodies (the lines of each message/tracking-status part). */
function tracking(...parts: string[][]): string {
  const out = [
    '+OK+ Tracking information follows',
    `Content-Type: multipart/related; boundary="${B}"; type="message/tracking-status"`,
    '',
  ]
  for (const p of parts) out.push(`--${B}`, 'Content-Type: message/tracking-status', '', ...p, '')
  out.push(`--${B}--`, '.')
  return lines(...out)
}

const EX6_PART = [
  'Original-Envelope-Id: 12345-20010101@example.com',
  'Reporting-MTA: dns; example2.com',
  'Arrival-Date: Mon, 1 Jan 2001 20:15:15 +0000',
  '',
  'Original-Recipient: rfc822; user1@example1.com',
  'Final-Recipient: rfc822; user1@example1.com',
  'Action: delivered',
  'Status: 2.5.0',
]

interface Setup {
  config?: Partial<SessionConfig>
  certificateNames?: readonly string[] | null
  records?: StoredMessage[]
  available?: () => boolean
  lookup?: (envid: string) => Promise<StoredMessage[]>
  budget?: TrackBudget
  client?: string
  now?: number
  /** Collects what the session logs. */
  logs?: string[]
  /** Collects the noinfo deadlines the session waits for (on the monotonic clock, which jumps to each). */
  sleeps?: number[]
  /** The monotonic clock, in ms; a lookup may move it. Default: a fixed fractional instant. */
  clock?: { ms: number }
  chain?: ChainFn
}

const CONFIG: SessionConfig = {
  suspended: false,
  starttls: 'on',
  adequateTlsVersion: 'TLSv1.2',
  insecureTls: 'refuse',
  maxBadCommands: 10,
  allowSingleLabelFqdn: false,
  noinfoDelayMs: 0,
}

/** A session with a decoder in front, as the server wires it, and the transcript of what it sent. */
function harness(setup: Setup = {}) {
  const out: string[] = []
  const decoder = new LineDecoder()
  // After <start-tls> the transport no longer hands plaintext to the session (MTQP-26).
  let plaintextOver = false
  const records = setup.records ?? []
  const clock = setup.clock ?? { ms: MONOTONIC_START }
  const opts: SessionOptions = {
    config: { ...CONFIG, ...setup.config },
    certificateNames:
      setup.certificateNames === undefined ? ['mtqp.test', '*.wild.test'] : setup.certificateNames,
    client: setup.client ?? '192.0.2.1',
    store: {
      get available() {
        return setup.available?.() ?? true
      },
      lookup:
        setup.lookup ??
        (async (envid) => {
          // Resolve later than a microtask, so answers that are not queued properly would overtake this one.
          await new Promise((r) => setImmediate(r))
          return records.filter((m) => m.envid === envid)
        }),
    },
    budget: setup.budget ?? memoryBudget(20),
    now: () => setup.now ?? NOW,
    randomBytes: (n) => Buffer.alloc(n, 0xab),
    monotonic: () => clock.ms,
    sleepUntil: async (deadline) => {
      setup.sleeps?.push(deadline)
      clock.ms = Math.max(clock.ms, deadline)
    },
    log: {
      debug: (m) => setup.logs?.push(m),
      info: (m) => setup.logs?.push(m),
      warn: (m) => setup.logs?.push(m),
    },
    output: (o) => {
      if (o.kind === 'write') {
        out.push(o.data)
        return
      }
      out.push(`<${o.kind}>`)
      if (o.kind === 'start-tls') {
        decoder.discardBuffered()
        plaintextOver = true
      }
    },
  }
  if (setup.chain !== undefined) opts.chain = setup.chain
  const session = new MtqpSession(opts)
  return {
    session,
    feed(chunk: Buffer | string) {
      if (!plaintextOver)
        session.receive(decoder.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk))
    },
    tls(protocol: string) {
      plaintextOver = false
      session.tlsEstablished(protocol)
    },
    transcript: () => out.join(''),
  }
}

type Step = string | { tls: string } | { wait: true }

/** Start a session, play the client's steps (bytes, a completed handshake, or waiting for the answers). */
async function play(setup: Setup, steps: Step[]): Promise<string> {
  const h = harness(setup)
  h.session.start()
  for (const step of steps) {
    if (typeof step === 'string') h.feed(step)
    else if ('tls' in step) h.tls(step.tls)
    else await h.session.whenIdle()
  }
  await h.session.whenIdle()
  return h.transcript()
}

/** The same client bytes fed whole, byte by byte and split at every position must give the same transcript. */
function threeWays(setup: Setup, input: string): Promise<string> {
  return feedThreeWaysAsync(async (chunks) => {
    const h = harness(setup)
    h.session.start()
    for (const c of chunks) h.feed(c)
    await h.session.whenIdle()
    return h.transcript()
  }, input)
}

// ---------------------------------------------------------------------------------------------------------------
// Greetings (RFC 3887 §3.1)

test('RFC 3887 example #1 / MTQP-10 / AMB-27: no options, single-line +OK/MTQP', async () => {
  assert.equal(await play({ certificateNames: null }, []), GREETING_PLAIN)
  assert.equal(
    await play({ config: { starttls: 'off' } }, []),
    GREETING_PLAIN,
    'STARTTLS disabled by the admin',
  )
})

test('RFC 3887 example #2 / MTQP-11: suspended by the admin, -TEMP/MTQP/admin, then close', async () => {
  assert.equal(
    await play({ config: { suspended: true } }, []),
    `${lines('-TEMP/MTQP/admin Service down for admin, call back later')}<close>`,
  )
})

test('RFC 3887 example #3 (as -TEMP) / MTQP-11: store unavailable at connect, /unavailable, then close', async () => {
  assert.equal(
    await play({ available: () => false }, ['TRACK 1@h.example.com AAAA\r\n']),
    `${lines('-TEMP/MTQP/unavailable Tracking store unavailable, call back later')}<close>`,
  )
})

test('RFC 3887 example #5 / MTQP-13: STARTTLS listed when enabled and a certificate is installed', async () => {
  assert.equal(await play({}, []), GREETING)
  assert.equal(
    await play({ config: { starttls: 'required' } }, []),
    lines('+OK+/MTQP MTQP server ready', 'STARTTLS required', '.'),
  )
})

test('MTQP-13: starttls=required without a certificate refuses the session instead of failing every TRACK', async () => {
  assert.equal(
    await play({ config: { starttls: 'required' }, certificateNames: null }, []),
    `${lines('-TEMP/MTQP/unavailable TLS is required but not available, call back later')}<close>`,
  )
})

test('MTQP-11 / MTQP-29: the connection-limit greeting', () => {
  assert.equal(
    connectionLimitGreeting('total'),
    lines('-TEMP/MTQP/unavailable/too-many-connections Too many connections, call back later'),
  )
  assert.equal(
    connectionLimitGreeting('client'),
    lines(
      '-TEMP/MTQP/unavailable/too-many-connections Too many connections from your address, call back later',
    ),
  )
})

// ---------------------------------------------------------------------------------------------------------------
// TRACK (RFC 3887 §4.1, with the vectors TV-1..3 in place of the inconsistent RFC example, ERR-3887-1)

test('RFC 3887 example #6 (delivered), TV-3 certifier, envid in <> (AMB-6), exact bytes', async () => {
  const got = await play({ records: [EX6] }, ['TRACK <12345-20010101@example.com> YWJjZGVmZ2gK\r\n'])
  assert.equal(got, GREETING + tracking(EX6_PART))
})

test('RFC 3887 example #7 (transferred), fields in grammar order (ERR-3887-4, TSN-17), exact bytes', async () => {
  const got = await play({ records: [EX7] }, ['TRACK <12345-20010101@example.com> YWJjZGVmZ2gK\r\n'])
  const part = [
    ...EX6_PART.slice(0, 6),
    'Action: transferred',
    'Status: 2.4.0',
    'Remote-MTA: dns; example3.com',
    'Last-Attempt-Date: Tue, 2 Jan 2001 00:15:03 +0000',
  ]
  assert.equal(got, GREETING + tracking(part))
})

test('TV-7: the happy path session from greeting to QUIT', async () => {
  const got = await play({ records: [TV7], certificateNames: null }, [
    'TRACK 1@h.example.com AAECAwQFBgcICQoLDA0ODw\r\n',
    { wait: true },
    'QUIT\r\n',
  ])
  const part = [
    'Original-Envelope-Id: 1@h.example.com',
    'Reporting-MTA: dns; example2.com',
    'Arrival-Date: Mon, 1 Jan 2001 20:15:15 +0000',
    '',
    'Original-Recipient: rfc822; u@example.net',
    'Final-Recipient: rfc822; u@example.net',
    'Action: transferred',
    'Status: 2.4.0',
    'Remote-MTA: dns; mx2.example.net',
    'Last-Attempt-Date: Mon, 1 Jan 2001 20:16:00 +0000',
  ]
  assert.equal(got, `${GREETING_PLAIN}${tracking(part)}${lines('+OK bye')}<close>`)
})

test('AMB-37 / AMB-26: two records with one envid give one part each, under one +OK+', async () => {
  const second = { ...EX6, txn: 'second', arrival: ARRIVAL + 1000 }
  const got = await play({ records: [EX6, second] }, ['TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n'])
  const later = [...EX6_PART]
  later[2] = 'Arrival-Date: Mon, 1 Jan 2001 20:15:16 +0000'
  assert.equal(got, GREETING + tracking(EX6_PART, later))
})

test('AMB-12 / AMB-13 / MTQP-18: unknown envid, wrong secret and expired data get one identical -ERR/noinfo', async () => {
  const expired = {
    ...EX6,
    retention: 60,
    recipients: [user1({ action: 'delivered', status: '2.5.0', keepUntil: NOW })],
  }
  const unknown = await play({ records: [EX6] }, ['TRACK other@example.com YWJjZGVmZ2gK\r\n'])
  const wrong = await play({ records: [EX6] }, [`TRACK 12345-20010101@example.com ${TV1.secret}\r\n`])
  const gone = await play({ records: [expired] }, ['TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n'])
  assert.equal(unknown, GREETING + NOINFO)
  assert.equal(wrong, unknown)
  assert.equal(gone, unknown)
})

test('MTQP-19: a message still queued is answered even when its retention has run out', async () => {
  const queued = {
    ...EX6,
    retention: 1,
    // Queued here: it has a give-up time (a 4xx refusal by the queue would not, and would expire).
    recipients: [user1({ action: 'delayed', status: '4.0.0', keepUntil: 0, willRetryUntil: ARRIVAL + DAY })],
  }
  const got = await play({ records: [queued], now: ARRIVAL + 365 * DAY }, [
    'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n',
  ])
  assert.match(got, /\+OK\+ Tracking information follows\r\n[\s\S]*Action: delayed\r\nStatus: 4\.0\.0\r\n/)
})

test('MTQP-17: the store failing during TRACK gives -TEMP/unavailable, and the session goes on', async () => {
  const got = await play({ lookup: () => Promise.reject(new Error('Connection is closed.')) }, [
    'TRACK 1@h.example.com AAAA\r\nCOMMENT still here\r\n',
  ])
  assert.equal(got, GREETING + lines('-TEMP/unavailable Tracking store unavailable, call back later', '+OK'))
})

test('AMB-28 / MTQP-8: TRACK syntax errors are -BAD with a fixed text that never echoes the secret', async () => {
  const got = await play({}, [
    'TRACK 1@h.example.com\r\n',
    'TRACK 1@h.example.com not*base64\r\n',
    'TRACK no-at-sign AAAA\r\n',
    'TRACK 1@h.example.com AAAA extra\r\n',
  ])
  assert.equal(
    got,
    GREETING +
      lines(
        '-BAD TRACK needs a unique-envid and a secret',
        '-BAD secret is not valid base64',
        '-BAD envid is not a unique-envid, xtext "@" xtext (RFC 3885 section 3.2)',
        '-BAD TRACK takes exactly two arguments',
      ),
  )
})

test('logs name the envid as sent (xtext), so a decoded CR LF cannot forge log lines', async () => {
  const logs: string[] = []
  const injected = record('a+0D+0AForged: yes@example.com', TV3.certifier, [user1({})], {
    envid: 'a\r\nForged: yes@example.com',
    reportingMta: 'bad name (x)',
  })
  await play({ records: [injected], logs }, [
    'TRACK a+0D+0AForged:+20yes@example.com YWJjZGVmZ2gK\r\nTRACK a+0D+0AForged:+20no@example.com AAAA\r\n',
  ])
  assert.ok(logs.some((l) => l.endsWith(': 1 part(s)')))
  assert.ok(logs.some((l) => l.endsWith(': noinfo')))
  assert.ok(
    logs.some((l) => /xtext form/.test(l)),
    'the report notes the unprintable decoded envid',
  )
  for (const l of logs) assert.doesNotMatch(l, /[\r\n]/)
})

// ---------------------------------------------------------------------------------------------------------------
// COMMENT, QUIT, errors

test('MTQP-20 / MTQP-27 / MTQP-8: COMMENT +OK, unknown -BAD, QUIT +OK then close and nothing more', async () => {
  const got = await play({}, ['COMMENT hello there\r\ncomment\r\nHELO x\r\n\r\nquit\r\nCOMMENT after\r\n'])
  assert.equal(
    got,
    GREETING +
      lines('+OK', '+OK', '-BAD unrecognised command', '-BAD empty command line', '+OK bye') +
      '<close>',
  )
})

test('MTQP-4: an over-long line is -BAD and the session resynchronises at the next line', async () => {
  const got = await play({}, [`COMMENT ${'x'.repeat(2000)}\r\nCOMMENT ok\r\n`])
  assert.equal(got, GREETING + lines('-BAD command line longer than 998 octets', '+OK'))
})

test('MTQP-4: a line with control or 8-bit octets is -BAD', async () => {
  const got = await play({}, ['COMMENT a\x00b\r\nCOMMENT caf\xe9\r\n'])
  const bad = '-BAD command line holds non-printable or non-ASCII characters'
  assert.equal(got, GREETING + lines(bad, bad))
})

test('MTQP-29: the bad command that reaches max_bad_commands gets -BAD/too-many-errors and the session ends', async () => {
  const got = await play({ config: { maxBadCommands: 3 } }, ['X\r\nCOMMENT\r\nY\r\nZ\r\nCOMMENT never\r\n'])
  assert.equal(
    got,
    GREETING +
      lines(
        '-BAD unrecognised command',
        '+OK',
        '-BAD unrecognised command',
        '-BAD/too-many-errors Too many bad commands, closing',
      ) +
      '<close>',
  )
})

test('MTQP-29: the failed-TRACK budget spans sessions of one client; once spent, -TEMP whatever is asked', async () => {
  const budget = memoryBudget(2)
  const wrong = `TRACK 12345-20010101@example.com ${TV1.secret}\r\n`
  const right = 'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n'
  assert.equal(await play({ records: [EX6], budget }, [wrong]), GREETING + NOINFO)
  const got = await play({ records: [EX6], budget }, [wrong, right])
  assert.equal(
    got,
    GREETING + NOINFO + lines('-TEMP/too-many-failures Too many failed TRACK requests, call back later'),
  )
  const other = await play({ records: [EX6], budget, client: '192.0.2.2' }, [right])
  assert.equal(other, GREETING + tracking(EX6_PART), 'another client is not affected')
})

test('MTQP-29: a TRACK that succeeds gives its reservation back; one the budget cannot vouch for gets -TEMP', async () => {
  const budget = memoryBudget(1)
  const wrong = `TRACK 12345-20010101@example.com ${TV1.secret}\r\n`
  const right = 'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n'
  const got = await play({ records: [EX6], budget }, [right, right, right, wrong, right])
  assert.equal(
    got,
    GREETING +
      tracking(EX6_PART).repeat(3) +
      NOINFO +
      lines('-TEMP/too-many-failures Too many failed TRACK requests, call back later'),
  )
  const logs: string[] = []
  const down = {
    reserve: () => Promise.reject(new Error('Redis down')),
    release: () => {},
  }
  const refused = await play({ records: [EX6], budget: down, logs }, [right])
  assert.equal(refused, GREETING + lines('-TEMP/unavailable Tracking store unavailable, call back later'))
  assert.ok(logs.some((l) => /failed-TRACK budget unavailable: Redis down/.test(l)))
})

// ---------------------------------------------------------------------------------------------------------------
// Pipelining (RFC 3887 §8)

const EX13_RECORDS = [
  record('tracking-id@example.com', TV3.certifier, [user1({ action: 'delivered', status: '2.5.0' })]),
  record('tracking-id-2@example.com', RFC_SECOND.certifier, [user1({ action: 'delayed', status: '4.4.1' })]),
]
const EX13_C1 = `TRACK <tracking-id@example.com> ${TV3.secret}\r\n`
const EX13_C2 = `TRACK <tracking-id-2@example.com> ${RFC_SECOND.secret}\r\n`

test('RFC 3887 examples #13 and #14 / MTQP-9: one at a time and pipelined give identical bytes', async () => {
  const one = await play({ records: EX13_RECORDS }, [EX13_C1, { wait: true }, EX13_C2])
  const piped = await play({ records: EX13_RECORDS }, [EX13_C1 + EX13_C2])
  assert.equal(piped, one)
  const parts = piped.split('+OK+ Tracking information follows\r\n')
  assert.equal(parts.length, 3)
  assert.match(parts[1]!, /Original-Envelope-Id: tracking-id@example\.com\r\n[\s\S]*Action: delivered/)
  assert.match(parts[2]!, /Original-Envelope-Id: tracking-id-2@example\.com\r\n[\s\S]*Action: delayed/)
})

test('MTQP-9: a pipelined batch gives the same bytes fed whole, byte by byte and split at every position', async () => {
  const batch =
    EX13_C1 +
    'COMMENT between\r\n' +
    `TRACK nobody@example.com ${TV1.secret}\r\n` +
    'BOGUS\r\n' +
    `COMMENT ${'y'.repeat(1000)}\r\n` +
    EX13_C2 +
    'QUIT\r\n' +
    'COMMENT after quit\r\n'
  const got = await threeWays({ records: EX13_RECORDS }, batch)
  const replies = new ResponseDecoder().push(Buffer.from(got.replace('<close>', ''), 'latin1'))
  assert.deepEqual(
    replies.map((r) => (r.ok ? `${r.value.indicator}/${r.value.codes.join('/')}` : r.error)),
    ['+OK+/mtqp', '+OK+/', '+OK/', '-ERR/noinfo', '-BAD/', '-BAD/', '+OK+/', '+OK/'],
  )
  assert.ok(got.endsWith('+OK bye\r\n<close>'))
})

test('MTQP-9: answers keep their order when a later TRACK resolves before an earlier one', async () => {
  const delays: Record<string, number> = { 'tracking-id@example.com': 30, 'tracking-id-2@example.com': 0 }
  const lookup = async (envid: string) => {
    await new Promise((r) => setTimeout(r, delays[envid]))
    return EX13_RECORDS.filter((m) => m.envid === envid)
  }
  const fast = await play({ records: EX13_RECORDS }, [EX13_C1 + EX13_C2])
  assert.equal(await play({ lookup }, [EX13_C1 + EX13_C2]), fast)
})

test('a session closed while a TRACK waits for the store sends nothing more', async () => {
  let release: (m: StoredMessage[]) => void = () => {}
  const h = harness({ lookup: () => new Promise((r) => (release = r)) })
  h.session.start()
  h.feed(EX13_C1)
  h.session.closed()
  release(EX13_RECORDS)
  await h.session.whenIdle()
  await new Promise((r) => setImmediate(r))
  assert.equal(h.transcript(), GREETING)
})

test('a TRACK that succeeds gives its budget reservation back even when its client hung up before the answer', async () => {
  const outcomes = async (secretOf: (secret: string) => string) => {
    const { budget, counts } = countingBudget()
    let answer: (m: StoredMessage[]) => void = () => {}
    const h = harness({
      lookup: () => new Promise((r) => (answer = r)),
      budget,
    })
    h.session.start()
    h.feed(EX13_C1.replace(/ (\S+)\r\n$/, (_, secret: string) => ` ${secretOf(secret)}\r\n`))
    await new Promise((r) => setImmediate(r))
    h.session.closed()
    answer(EX13_RECORDS)
    await new Promise((r) => setTimeout(r, 10))
    return counts
  }
  assert.deepEqual(await outcomes((s) => s), { reserved: 1, released: 1 })
  // A wrong secret abandoned before its noinfo stays a failed TRACK.
  assert.deepEqual(await outcomes(() => 'AAAAAAAAAAAAAAAAAAAAAA'), { reserved: 1, released: 0 })
})

test('MTQP-29: a session holds one reservation, passed on from queued TRACK to TRACK until one fails, given back when nothing is left to answer', async () => {
  const counted = async (...steps: Step[]) => {
    const { budget, counts, inner } = countingBudget()
    const got = await play(
      {
        records: EX13_RECORDS,
        budget,
      },
      steps,
    )
    // What stays reserved once the session is idle is what was spent.
    const spent =
      20 -
      (await Promise.all(Array.from({ length: 20 }, () => inner.reserve('192.0.2.1')))).filter(Boolean).length
    return {
      answers: got.split(/^(?:\+OK\+ Tracking information follows|-ERR\/noinfo )/m).length - 1,
      ...counts,
      spent,
    }
  }
  const wrong = `TRACK <tracking-id@example.com> ${TV1.secret}\r\n`
  assert.deepEqual(await counted(EX13_C1.repeat(30)), { answers: 30, reserved: 1, released: 1, spent: 0 })
  assert.deepEqual(await counted(EX13_C1.repeat(3) + wrong + EX13_C1.repeat(3)), {
    answers: 7,
    reserved: 2,
    released: 1,
    spent: 1,
  })
  // One at a time: nothing is queued when an answer leaves, so each reservation goes back at once. An idle session
  // holding one would shrink its address's budget and the global ceiling for everyone else.
  const wait = { wait: true } as const
  assert.deepEqual(await counted(EX13_C1, wait, EX13_C1, wait, EX13_C1), {
    answers: 3,
    reserved: 3,
    released: 3,
    spent: 0,
  })
})

test('MTQP-29: a reservation is passed on for at most 10 s; then it goes back and the next TRACK reserves anew', async () => {
  const { budget, counts } = countingBudget()
  const clock = { ms: MONOTONIC_START }
  const got = await play(
    {
      clock,
      // Every store read takes 3 s of the monotonic clock, started when the read is.
      lookup: async (envid) => {
        clock.ms += 3000
        return EX13_RECORDS.filter((m) => m.envid === envid)
      },
      budget,
    },
    [EX13_C1.repeat(6)],
  )
  assert.equal(got.split('+OK+ Tracking information follows').length, 7)
  // The first reservation is 18 s old at the second TRACK's turn (six reads started); the second serves the rest.
  assert.deepEqual(counts, { reserved: 2, released: 2 })
})

// ---------------------------------------------------------------------------------------------------------------
// STARTTLS (RFC 3887 §6)

test('MTQP-23: STARTTLS without a certificate, or disabled, is -ERR/unsupported', async () => {
  const unsupported = lines('-ERR/unsupported TLS not available')
  assert.equal(
    await play({ certificateNames: null }, ['STARTTLS mtqp.test\r\n']),
    GREETING_PLAIN + unsupported,
  )
  assert.equal(
    await play({ config: { starttls: 'off' } }, ['STARTTLS mtqp.test\r\n']),
    GREETING_PLAIN + unsupported,
  )
})

test('MTQP-23 / AMB-24: a name that matches no dNSName, or has no dot, is -BAD/bad-fqdn', async () => {
  const got = await play({}, ['STARTTLS other.test\r\nSTARTTLS b.a.wild.test\r\nSTARTTLS mtqp\r\n'])
  assert.equal(
    got,
    GREETING +
      lines(
        '-BAD/bad-fqdn host name matches no name of the certificate',
        '-BAD/bad-fqdn host name matches no name of the certificate',
        '-BAD/bad-fqdn STARTTLS needs a fully qualified host name',
      ),
  )
  // Test mode accepts a single label, which must still match the certificate.
  const single = await play({ config: { allowSingleLabelFqdn: true }, certificateNames: ['localhost'] }, [
    'STARTTLS localhost\r\n',
  ])
  assert.equal(single, `${GREETING}${lines('+OK Begin TLS negotiation')}<start-tls>`)
})

test('MTQP-24 / MTQP-26: +OK, plaintext pipelined after STARTTLS is discarded, new greeting without STARTTLS', async () => {
  const got = await play({ records: [EX6] }, [
    'STARTTLS A.Wild.Test\r\nTRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\nQUIT\r\nCOMMENT partial',
    { tls: 'TLSv1.3' },
    'STARTTLS mtqp.test\r\nTRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n',
  ])
  assert.equal(
    got,
    `${GREETING}${lines('+OK Begin TLS negotiation')}<start-tls>` +
      GREETING_PLAIN +
      lines('-BAD/tls-in-progress TLS already active') +
      tracking(EX6_PART),
  )
})

test('MTQP-26: STARTTLS queued behind a TRACK still discards what follows it', async () => {
  const batch = 'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\nSTARTTLS mtqp.test\r\nCOMMENT dropped\r\n'
  const got = await threeWays({ records: [EX6] }, batch)
  assert.equal(got, `${GREETING}${tracking(EX6_PART)}${lines('+OK Begin TLS negotiation')}<start-tls>`)
})

test('MTQP-8 / MTQP-17: required mode answers TRACK before TLS with -ERR/tls-required; COMMENT and TLS work', async () => {
  const track = 'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n'
  const got = await play({ records: [EX6], config: { starttls: 'required' } }, [
    `${track}COMMENT x\r\nSTARTTLS mtqp.test\r\n`,
    { tls: 'TLSv1.2' },
    track,
  ])
  assert.equal(
    got,
    lines('+OK+/MTQP MTQP server ready', 'STARTTLS required', '.') +
      lines('-ERR/tls-required TLS required, use STARTTLS first', '+OK', '+OK Begin TLS negotiation') +
      `<start-tls>${GREETING_PLAIN}${tracking(EX6_PART)}`,
  )
})

test('MTQP-25: inadequate TLS answers everything but QUIT with -ERR/insecure (insecure_tls=refuse)', async () => {
  const got = await play({ records: [EX6], config: { adequateTlsVersion: 'TLSv1.3' } }, [
    'STARTTLS mtqp.test\r\n',
    { tls: 'TLSv1.2' },
    'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\nCOMMENT x\r\nBOGUS\r\nQUIT\r\n',
  ])
  const insecure = '-ERR/insecure TLS protection inadequate'
  assert.equal(
    got,
    `${GREETING}${lines('+OK Begin TLS negotiation')}<start-tls>${GREETING_PLAIN}` +
      `${lines(insecure, insecure, insecure, '+OK bye')}<close>`,
  )
})

test('MTQP-25: with insecure_tls=close the session ends after the handshake with -ERR/MTQP/insecure', async () => {
  const got = await play({ config: { adequateTlsVersion: 'TLSv1.3', insecureTls: 'close' } }, [
    'STARTTLS mtqp.test\r\n',
    { tls: 'TLSv1.2' },
  ])
  assert.equal(
    got,
    `${GREETING}${lines('+OK Begin TLS negotiation')}<start-tls>${lines('-ERR/MTQP/insecure TLS protection inadequate')}<close>`,
  )
})

test('MTQP-24: the greeting after the handshake also reports a store that went away meanwhile', async () => {
  let up = true
  const h = harness({ available: () => up })
  h.session.start()
  h.feed('STARTTLS mtqp.test\r\n')
  up = false
  h.tls('TLSv1.3')
  assert.equal(
    h.transcript(),
    `${GREETING}${lines('+OK Begin TLS negotiation')}<start-tls>` +
      `${lines('-TEMP/MTQP/unavailable Tracking store unavailable, call back later')}<close>`,
  )
})

test('a TLS event without a STARTTLS is ignored', async () => {
  const h = harness()
  h.session.start()
  h.tls('TLSv1.3')
  h.feed('STARTTLS mtqp.test\r\n')
  assert.equal(h.transcript(), `${GREETING}${lines('+OK Begin TLS negotiation')}<start-tls>`)
})

// ---------------------------------------------------------------------------------------------------------------
// Properties

const line = fc.oneof(
  fc.string({ unit: 'binary-ascii', maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, '')),
  fc.constantFrom(
    'COMMENT x',
    'QUIT',
    'STARTTLS mtqp.test',
    'TRACK 12345-20010101@example.com YWJjZGVmZ2gK',
    `TRACK 1@h.example.com ${TV1.secret}`,
    'TRACK <a@b> QQ==',
    'track x@y AAAA',
  ),
)

test('property: every line gets exactly one reply, in order, up to QUIT; the session never throws', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(line, { maxLength: 12 }), async (ls) => {
      const setup: Setup = { records: [EX6, TV7], config: { starttls: 'off', maxBadCommands: 1000 } }
      const got = await play(setup, [ls.map((l) => `${l}\r\n`).join('')])
      const quit = ls.findIndex((l) => parseCommand(l).verb === 'QUIT')
      const answered = quit === -1 ? ls.length : quit + 1
      const replies = new ResponseDecoder().push(Buffer.from(got.replace('<close>', ''), 'latin1'))
      assert.equal(replies.length, 1 + answered, got)
      assert.ok(replies.every((r) => r.ok))
      assert.equal(got.endsWith('<close>'), quit !== -1)
    }),
    { numRuns: 200 },
  )
})

// ---------------------------------------------------------------------------------------------------------------
// Chaining (MTQP-30..33): the session only hands its parts to the injected function and answers with what it returns

const CHAINED_PART = [
  'Original-Envelope-Id: 12345-20010101@example.com',
  'Reporting-MTA: dns; example3.com',
  'Arrival-Date: Mon, 1 Jan 2001 20:16:00 +0000',
  '',
  'Original-Recipient: rfc822; user1@example1.com',
  'Final-Recipient: rfc822; user1@example1.com',
  'Action: delivered',
  'Status: 2.5.0',
]

const EX7_PART = [
  'Original-Envelope-Id: 12345-20010101@example.com',
  'Reporting-MTA: dns; example2.com',
  'Arrival-Date: Mon, 1 Jan 2001 20:15:15 +0000',
  '',
  'Original-Recipient: rfc822; user1@example1.com',
  'Final-Recipient: rfc822; user1@example1.com',
  'Action: transferred',
  'Status: 2.4.0',
  'Remote-MTA: dns; example3.com',
  'Last-Attempt-Date: Tue, 2 Jan 2001 00:15:03 +0000',
]

function recordingChain(calls: ChainRequest[]): ChainFn {
  return async (req) => {
    calls.push(req)
    const [own] = req.parts
    return [
      ...req.parts,
      {
        originalEnvelopeId: own!.originalEnvelopeId,
        reportingMta: { type: 'dns', value: 'example3.com' },
        arrivalDate: new Date(Date.UTC(2001, 0, 1, 20, 16, 0)),
        recipients: [
          {
            ...own!.recipients[0]!,
            action: 'delivered',
            status: '2.5.0',
            remoteMta: undefined,
            lastAttemptDate: undefined,
          },
        ],
      },
    ]
  }
}

test('MTQP-30 / MTQP-33: the chain gets the envid as sent, the secret and our parts; its parts follow ours', async () => {
  const calls: ChainRequest[] = []
  const got = await play({ records: [EX7], chain: recordingChain(calls) }, [
    'TRACK <12345-20010101@example.com> YWJjZGVmZ2gK\r\n',
  ])
  assert.equal(got, GREETING + tracking(EX7_PART, CHAINED_PART))
  assert.equal(calls.length, 1)
  assert.equal(calls[0]?.envid, '12345-20010101@example.com')
  assert.equal(Buffer.from(calls[0]!.secret).toString('latin1'), 'abcdefgh\n')
  assert.equal(calls[0]?.tls, false)
  assert.equal(calls[0]?.parts[0]?.reportingMta.value, 'example2.com')
})

test('MTQP-32: after STARTTLS the chain is told the client uses TLS', async () => {
  const calls: ChainRequest[] = []
  await play({ records: [EX7], chain: recordingChain(calls) }, [
    'STARTTLS mtqp.test\r\n',
    { tls: 'TLSv1.3' },
    'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n',
  ])
  assert.equal(calls[0]?.tls, true)
})

test('AMB-25: a chain that fails leaves the answer with our own part, and the failure is logged', async () => {
  const logs: string[] = []
  const got = await play(
    {
      records: [EX7],
      logs,
      chain: async () => {
        throw new Error('boom')
      },
    },
    ['TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n'],
  )
  assert.equal(got, GREETING + tracking(EX7_PART))
  assert.ok(logs.some((l) => /chaining failed.*boom/.test(l)))
})

test('MTQP-30: nothing is chained for a message this server does not know (-ERR/noinfo)', async () => {
  const calls: ChainRequest[] = []
  const got = await play({ records: [], chain: recordingChain(calls) }, [
    'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n',
  ])
  assert.equal(got, GREETING + NOINFO)
  assert.equal(calls.length, 0)
})

test('AMB-12, AMB-13: every noinfo leaves noinfo_delay after its TRACK arrived; a success does not wait', async () => {
  const sleeps: number[] = []
  const setup = { records: [EX6], config: { noinfoDelayMs: 250 }, sleeps }
  const got = await play(setup, [
    'TRACK nobody@example.com YWJjZGVmZ2gK\r\n',
    'TRACK 12345-20010101@example.com QUJDREVGR0gK\r\n',
    'TRACK 12345-20010101@example.com YWJjZGVmZ2gK\r\n',
  ])
  assert.equal(got.split(NOINFO).length, 3, 'unknown envid and wrong secret: the same reply')
  assert.match(got, /\+OK\+ Tracking information follows/)
  assert.deepEqual(
    sleeps,
    [MONOTONIC_START + 250, MONOTONIC_START + 500],
    'each refusal waits for the whole delay after its turn came',
  )
})

test('AMB-13: a known envid and an unknown one refuse at the same sub-millisecond deadline', async () => {
  // The known envid's record takes longer to read and check; the reply must not leave later because of it.
  const sentAt = async (envid: string, readMs: number): Promise<number> => {
    const clock = { ms: MONOTONIC_START }
    const h = harness({
      config: { noinfoDelayMs: 250 },
      clock,
      lookup: async (e) => {
        clock.ms += readMs
        return [EX6].filter((m) => m.envid === e)
      },
    })
    const session = h.session
    session.start()
    const before = h.transcript()
    h.feed(`TRACK ${envid} QUJDREVGR0gK\r\n`)
    await session.whenIdle()
    assert.equal(h.transcript().slice(before.length), NOINFO)
    return clock.ms
  }
  const known = await sentAt('12345-20010101@example.com', 0.37)
  const unknown = await sentAt('nobody@example.com', 0.01)
  assert.equal(known, MONOTONIC_START + 250)
  assert.equal(unknown, known)
})
