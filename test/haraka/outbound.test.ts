// The outbound seam against the Haraka actually installed: it must exist (a Haraka upgrade that removes or changes it
// fails here, loudly), and a conversation driven through the real try_deliver_host_on_socket must come out rewritten.
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import {
  attemptId,
  forgetHop,
  hopOf,
  installOutboundSeam,
  mxName,
  previousDeferral,
  retrySchedule,
  seamPrototype,
} from '../../src/haraka/outbound'
import type { HarakaPlugin, HMailItem } from '../../src/haraka/types'
import type { TrackingNote } from '../../src/model/note'
import { mailParams, type NextHop, rcptParams } from '../../src/relay/forwarding'
import { Address, REPO } from '../helpers/haraka'

const HARAKA = join(REPO, 'node_modules', 'Haraka')
const load = (name: string): unknown => require(join(HARAKA, name))

const fail = (e: unknown) => assert.fail(String(e))
const harakaVersion = (JSON.parse(readFileSync(join(HARAKA, 'package.json'), 'utf8')) as { version: string })
  .version

function plugin(require: (name: string) => unknown): HarakaPlugin & { warnings: string[] } {
  const warnings: string[] = []
  const log = () => {}
  return {
    name: 'mtrk',
    warnings,
    config: { get: () => undefined },
    register_hook: () => {},
    haraka_require: require,
    logdebug: log,
    loginfo: log,
    lognotice: log,
    logwarn: (m: unknown) => warnings.push(String(m)),
    logerror: log,
  }
}

test(`the seam exists in the installed Haraka ${harakaVersion}: HMailItem.prototype.try_deliver_host_on_socket`, () => {
  const hmail = load('outbound/hmail')
  assert.ok(
    seamPrototype(hmail),
    `Haraka ${harakaVersion} has no try_deliver_host_on_socket(mx, host, port, socket): MTRK/DSN parameters would ` +
      'not be forwarded. Update src/haraka/outbound.ts for this Haraka.',
  )
  // What the wrap relies on inside the method (HRK-16): commands are written as strings ending in CRLF through
  // socket.write, MAIL and RCPT carry no parameters of their own, replies arrive as 'line' events.
  const source = String(
    (hmail as { prototype: Record<string, unknown> }).prototype.try_deliver_host_on_socket,
  )
  const needles = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Haraka's source text
    'socket.write(`${line}\\r\\n`',
    "socket.on('line'",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Haraka's source text
    "send_command('RCPT', `TO:${last_recip.format(!smtp_properties.smtputf8)}`)",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Haraka's source text
    'return `FROM:${rp}${rp_params}`',
  ]
  for (const needle of needles) {
    assert.ok(
      source.includes(needle),
      `Haraka ${harakaVersion} changed try_deliver_host_on_socket: ${needle}`,
    )
  }
})

test('without the seam, install reports it (the plugin then warns and forwards nothing)', () => {
  assert.equal(seamPrototype(null), null)
  assert.equal(
    seamPrototype({ prototype: { try_deliver_host_on_socket: (_a: unknown) => 0 } }),
    null,
    'arity',
  )
  const throwing = plugin(() => {
    throw new Error("Cannot find module './outbound/hmail'")
  })
  assert.equal(
    installOutboundSeam(throwing, () => null, fail),
    false,
  )
  assert.equal(
    installOutboundSeam(
      plugin(() => ({ prototype: {} })),
      () => null,
      fail,
    ),
    false,
  )
})

/** A socket the real method can run on; records what it writes, lets the test play the next hop. */
class FakeSocket extends EventEmitter {
  writable = true
  written: string[] = []
  write(data: unknown): boolean {
    this.written.push(String(data))
    return true
  }
  isSecure() {
    return false
  }
  isEncrypted() {
    return false
  }
  reply(...lines: string[]) {
    for (const l of lines) this.emit('line', `${l}\r\n`)
  }
}

test('a conversation through the real method: keywords learned, MAIL and RCPT rewritten, the hop recorded', () => {
  const HMail = load('outbound/hmail') as { prototype: object }
  const note: TrackingNote = {
    v: 1,
    envid: 'e+2B1@h.test',
    ret: 'FULL',
    track: { certifier: 'VheLhqV/rCKJmplkGFwsyW59pYk', timeout: null, retention: 600, envid: 'e+1@h.test' },
    arrival: Date.now(),
    rcpts: { 'u@far.test': { orcpt: 'rfc822;U@far.test', notify: 'DELAY' } },
  }
  const p = plugin((name) => load(name))
  assert.equal(
    installOutboundSeam(p, () => null, fail),
    true,
  )
  const forwarder = {
    mail: (hop: NextHop) => mailParams(note, hop, Date.now(), false),
    rcpt: (path: string, hop: NextHop) =>
      rcptParams(path === '<u@far.test>' ? note.rcpts['u@far.test'] : undefined, hop),
  }
  assert.equal(
    installOutboundSeam(p, () => forwarder, fail),
    true,
    'wrapped once, the latest planner used',
  )
  const hmail = Object.assign(Object.create(HMail.prototype), {
    todo: {
      uuid: 'T.1.1',
      domain: 'far.test',
      mail_from: new Address('<s@h.test>'),
      rcpt_to: [new Address('<u@far.test>'), new Address('<v@far.test>')],
      notes: {},
    },
    num_failures: 0,
    filename: '1_2_0_3_UID_4_host',
  }) as HMailItem & { try_deliver_host_on_socket(...a: unknown[]): void }
  const socket = new FakeSocket()
  const mx = { exchange: '127.0.0.1', from_dns: 'mx.far.test', port: 25, bind_helo: 'me.test' }
  hmail.try_deliver_host_on_socket(mx, '127.0.0.1', 25, socket)
  socket.reply('220 mx.far.test ready')
  socket.reply('250-mx.far.test', '250-ENHANCEDSTATUSCODES', '250-DSN', '250 MTRK')
  socket.reply('250 2.1.0 ok')
  socket.reply('250 2.1.5 ok')
  assert.deepEqual(socket.written, [
    'EHLO me.test\r\n',
    'MAIL FROM:<s@h.test> ENVID=e+2B1@h.test RET=FULL MTRK=VheLhqV/rCKJmplkGFwsyW59pYk:600\r\n',
    'RCPT TO:<u@far.test> NOTIFY=DELAY ORCPT=rfc822;U@far.test\r\n',
    'RCPT TO:<v@far.test>\r\n',
  ])
  const hop = hopOf(hmail)
  assert.equal(hop?.host, 'mx.far.test', 'AMB-30: the MX name, not its address')
  assert.equal(hop?.mtrkSent, true)
  assert.deepEqual(hop?.lastReply, { code: 250, text: '2.1.5 ok' })
  forgetHop(hmail)
  assert.equal(hopOf(hmail), undefined)
  socket.removeAllListeners()
})

test('a failing planner never breaks delivery: the lines go out unchanged and the error is reported', () => {
  const HMail = load('outbound/hmail') as { prototype: object }
  const errors: unknown[] = []
  const broken = () => {
    throw new Error('planner bug')
  }
  installOutboundSeam(plugin(load), broken, (e) => errors.push(e))
  const hmail = Object.assign(Object.create(HMail.prototype), {
    todo: {
      uuid: 'T.2.1',
      domain: 'far.test',
      mail_from: new Address('<s@h.test>'),
      rcpt_to: [new Address('<u@far.test>')],
      notes: {},
    },
    num_failures: 0,
    filename: '1_2_0_3_UID_4_host',
  }) as HMailItem & { try_deliver_host_on_socket(...a: unknown[]): void }
  const socket = new FakeSocket()
  hmail.try_deliver_host_on_socket({ exchange: '192.0.2.1', bind_helo: 'me.test' }, '192.0.2.1', 25, socket)
  socket.reply('220 hi', '250-mx', '250 MTRK', '250 ok')
  assert.deepEqual(socket.written, [
    'EHLO me.test\r\n',
    'MAIL FROM:<s@h.test>\r\n',
    'RCPT TO:<u@far.test>\r\n',
  ])
  assert.match(String(errors[0]), /planner bug/)
  assert.equal(hopOf(hmail), undefined, 'no hop known: the recipient can only be reported relayed')
  socket.removeAllListeners()
})

test('Remote-MTA names, attempt ids and the live retry schedule', () => {
  assert.equal(mxName({ exchange: '192.0.2.1', from_dns: 'mx.example' }), 'mx.example')
  assert.equal(mxName({ exchange: '2001:db8::1', from_dns: 'mx.example' }), 'mx.example')
  assert.equal(mxName({ exchange: 'relay.example', from_dns: 'example' }), 'relay.example')
  assert.equal(mxName({ exchange: '192.0.2.1' }), '192.0.2.1')
  assert.equal(mxName(undefined), null)

  const hmail = (filename: string, failures: number) =>
    ({ todo: { uuid: 'C.1.2' }, filename, num_failures: failures }) as unknown as HMailItem
  const file = '1700000000000_1700000005000_1_123_AbC123_7_host'
  assert.equal(attemptId(hmail(file, 1), 'deferred'), 'C.1.2:AbC123:1:deferred')
  assert.equal(attemptId(hmail(file, 1), 'deferred'), attemptId(hmail(file, 1), 'deferred'), 'a replay')
  assert.notEqual(attemptId(hmail(file, 2), 'deferred'), attemptId(hmail(file, 1), 'deferred'), 'a retry')
  const split = '1700000000000_1700000005000_0_123_XyZ789_8_host'
  assert.notEqual(
    attemptId(hmail(split, 1), 'deferred'),
    attemptId(hmail(file, 1), 'deferred'),
    'a split file',
  )

  assert.deepEqual(retrySchedule(plugin(() => ({ cfg: { temp_fail_intervals: [5, 10] } }))), [5, 10])
  const fallback = retrySchedule(plugin(() => ({ cfg: {} })))
  assert.equal(fallback.length, 12, 'maxTempFailures=13 by default')
  assert.equal(fallback[0], 64)
})

test("HRK-23: the previous deferral's time, read from a queue file name as Haraka's qfile writes it", () => {
  const qfile = load('outbound/qfile') as {
    name: (o: { arrival?: number; next_attempt?: number; attempts?: number }) => string
  }
  const schedule = [5, 10, 20]
  const at = (filename: string, failures: number) =>
    previousDeferral({ filename, num_failures: failures } as unknown as HMailItem, schedule)
  // The third attempt ends: the second deferral set next_attempt to its time plus schedule[1] seconds.
  const third = qfile.name({ arrival: 1_700_000_000_000, next_attempt: 1_700_000_100_000, attempts: 2 })
  assert.equal(at(third, 3), 1_700_000_100_000 - 10_000)
  assert.equal(at(qfile.name({ attempts: 0 }), 1), null, 'a first attempt had no deferral before it')
  assert.equal(at('1484878079415_0_12345_8888.mta1.example.com', 2), null, "Haraka's old four-part names")
})
