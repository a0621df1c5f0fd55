import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type ClientCommand, type Command, formatCommand, parseCommand } from '../../src/mtqp/command'
import { LineDecoder } from '../../src/mtqp/framing'

const TV1 = Buffer.from([...Array(16).keys()])

function track(envid: string, secret: Buffer): Command {
  return { verb: 'TRACK', envid, secret }
}

test('RFC 3887 §4.1 example: TRACK <12345-20010101@example.com> YWJjZGVmZ2gK (AMB-6 brackets stripped)', () => {
  assert.deepStrictEqual(
    parseCommand('TRACK <12345-20010101@example.com> YWJjZGVmZ2gK'),
    track('12345-20010101@example.com', Buffer.from('abcdefgh\n')),
  )
})

test('AMB-6: exactly one enclosing <> pair is stripped; unbalanced brackets are ordinary xtext characters', () => {
  const abc = Buffer.from('ABC')
  assert.deepStrictEqual(parseCommand('TRACK <<a@b>> QUJD'), track('<a@b>', abc))
  assert.deepStrictEqual(parseCommand('TRACK <a@b QUJD'), track('<a@b', abc))
  assert.deepStrictEqual(parseCommand('TRACK a@b> QUJD'), track('a@b>', abc))
})

test('RFC 3887 §8.1 examples #13/#14: the second pipelined TRACK secret QUJDREVGR0gK', () => {
  const c = parseCommand('TRACK <tracking-id-2@example.com> QUJDREVGR0gK')
  assert.deepStrictEqual(c, track('tracking-id-2@example.com', Buffer.from('ABCDEFGH\n')))
})

test('TV-1: padded and unpadded secrets decode to octets 00..0f (AMB-3)', () => {
  assert.deepStrictEqual(
    parseCommand('TRACK 1@h.example.com AAECAwQFBgcICQoLDA0ODw=='),
    track('1@h.example.com', TV1),
  )
  assert.deepStrictEqual(
    parseCommand('TRACK 1@h.example.com AAECAwQFBgcICQoLDA0ODw'),
    track('1@h.example.com', TV1),
  )
})

test('MTQP-4: keywords are case-insensitive and separators are 1*WSP (SP or HTAB)', () => {
  const want = track('1@h.example.com', TV1)
  for (const line of [
    'track 1@h.example.com AAECAwQFBgcICQoLDA0ODw',
    'TrAcK\t1@h.example.com\tAAECAwQFBgcICQoLDA0ODw',
    'TRACK \t 1@h.example.com  \t AAECAwQFBgcICQoLDA0ODw',
    'TRACK 1@h.example.com AAECAwQFBgcICQoLDA0ODw \t', // trailing WSP tolerated
  ]) {
    assert.deepStrictEqual(parseCommand(line), want, line)
  }
  assert.deepStrictEqual(parseCommand('quit'), { verb: 'QUIT' })
  assert.deepStrictEqual(parseCommand('Quit  '), { verb: 'QUIT' })
  assert.deepStrictEqual(parseCommand('starttls\tmtqp.example.com'), {
    verb: 'STARTTLS',
    domain: 'mtqp.example.com',
  })
  assert.deepStrictEqual(parseCommand('comment\thello'), { verb: 'COMMENT', text: 'hello' })
})

test('MTQP-22: STARTTLS <FQDN>, trailing WSP allowed by the grammar', () => {
  assert.deepStrictEqual(parseCommand('STARTTLS example2.com'), { verb: 'STARTTLS', domain: 'example2.com' })
  assert.deepStrictEqual(parseCommand('STARTTLS mtqp.Example.COM \t'), {
    verb: 'STARTTLS',
    domain: 'mtqp.Example.COM',
  })
})

test('AMB-24: a single-label STARTTLS name is -BAD/bad-fqdn unless test mode allows it', () => {
  assert.deepStrictEqual(parseCommand('STARTTLS localhost'), {
    verb: 'bad',
    reason: 'STARTTLS needs a fully qualified host name',
    keyword: 'STARTTLS',
    codes: ['bad-fqdn'],
  })
  assert.deepStrictEqual(parseCommand('STARTTLS localhost', { allowSingleLabelFqdn: true }), {
    verb: 'STARTTLS',
    domain: 'localhost',
  })
})

test('MTQP-20: COMMENT with text, with only whitespace, and alone', () => {
  assert.deepStrictEqual(parseCommand('COMMENT this is  a\tcomment '), {
    verb: 'COMMENT',
    text: 'this is  a\tcomment ',
  })
  assert.deepStrictEqual(parseCommand('COMMENT'), { verb: 'COMMENT', text: '' })
  assert.deepStrictEqual(parseCommand('COMMENT   '), { verb: 'COMMENT', text: '' })
  assert.deepStrictEqual(parseCommand('COMMENT TRACK a@b QUJD'), { verb: 'COMMENT', text: 'TRACK a@b QUJD' })
})

test('MTQP-8 / AMB-28: table of lines that must be -BAD', () => {
  const cases: [string, string | undefined, string][] = [
    // [line, keyword recognised, what the reason must mention]
    ['', undefined, 'empty'],
    [' QUIT', undefined, 'whitespace'],
    ['\tTRACK a@b.c QUJD', undefined, 'whitespace'],
    ['HELO there', undefined, 'unrecognised'],
    ['TRACKX a@b.c QUJD', undefined, 'unrecognised'],
    ['COMMENTS x', undefined, 'unrecognised'],
    ['QUIT now', 'QUIT', 'no arguments'],
    ['TRACK', 'TRACK', 'needs'],
    ['TRACK a@b.c', 'TRACK', 'needs'],
    ['TRACK a@b.c QUJD extra', 'TRACK', 'exactly two'],
    ['TRACK noatsign QUJD', 'TRACK', 'unique-envid'],
    ['TRACK @b.c QUJD', 'TRACK', 'unique-envid'],
    ['TRACK a@ QUJD', 'TRACK', 'unique-envid'],
    ['TRACK <> QUJD', 'TRACK', 'unique-envid'],
    ['TRACK a=b@c QUJD', 'TRACK', 'unique-envid'],
    ['TRACK a+zz@c QUJD', 'TRACK', 'unique-envid'],
    ['TRACK a@b.c QUJD=', 'TRACK', 'base64'],
    ['TRACK a@b.c QQ=', 'TRACK', 'base64'],
    ['TRACK a@b.c Q', 'TRACK', 'base64'],
    ['TRACK a@b.c QR==', 'TRACK', 'base64'],
    ['TRACK a@b.c QU-_', 'TRACK', 'base64'],
    ['TRACK a@b.c ====', 'TRACK', 'base64'],
    ['STARTTLS', 'STARTTLS', 'exactly one'],
    ['STARTTLS a.example b.example', 'STARTTLS', 'exactly one'],
    ['STARTTLS example.com.', 'STARTTLS', 'fully qualified'],
    ['STARTTLS exa_mple.com', 'STARTTLS', 'fully qualified'],
    ['STARTTLS -x.example.com', 'STARTTLS', 'fully qualified'],
    ['QUIT\r', undefined, 'non-printable'],
    ['QUIT\x00', undefined, 'non-printable'],
    ['COMMENT caf\u00e9', undefined, 'non-printable'],
    ['COMMENT \x1b[31m', undefined, 'non-printable'],
    [`COMMENT ${'x'.repeat(991)}`, undefined, '998'],
  ]
  for (const [line, keyword, mention] of cases) {
    const c = parseCommand(line)
    assert.equal(c.verb, 'bad', JSON.stringify(line))
    if (c.verb !== 'bad') continue
    assert.equal(c.keyword, keyword, JSON.stringify(line))
    assert.ok(c.reason.includes(mention), `${JSON.stringify(line)}: ${c.reason}`)
  }
})

test('URI-5 / SEC-3: a bad command never echoes the secret in its reason', () => {
  const secret = 'c2VjcmV0c2VjcmV0c2VjcmV0'
  for (const line of [`TRACK nope ${secret}`, `TRACK a@b.c ${secret} extra`, `TRACK a@b.c ${secret}=`]) {
    const c = parseCommand(line)
    assert.equal(c.verb, 'bad')
    assert.ok(!JSON.stringify(c).includes(secret))
  }
})

test('a line framed by LineDecoder from a pipelined batch parses command by command (MTQP-9)', () => {
  const items = new LineDecoder().push(
    Buffer.from('COMMENT hi\r\nTRACK <a@b.example> YWJjZGVmZ2gK\r\nSTARTTLS mtqp.example.com\r\n'),
  )
  const verbs = items.map((i) => (i.kind === 'line' ? parseCommand(i.line).verb : 'overlong'))
  assert.deepStrictEqual(verbs, ['COMMENT', 'TRACK', 'STARTTLS'])
})

test('formatCommand: client wire forms (AMB-6 bare envid, AMB-3 unpadded secret, AMB-24 FQDN)', () => {
  assert.deepStrictEqual(formatCommand({ verb: 'TRACK', envid: '1@h.example.com', secret: TV1 }), {
    ok: true,
    value: 'TRACK 1@h.example.com AAECAwQFBgcICQoLDA0ODw\r\n',
  })
  assert.deepStrictEqual(
    formatCommand({ verb: 'TRACK', envid: '1@h.example.com', secret: TV1 }, { bracketEnvid: true }),
    { ok: true, value: 'TRACK <1@h.example.com> AAECAwQFBgcICQoLDA0ODw\r\n' },
  )
  // An envid that is itself bracketed gets one more pair, because the server strips one (AMB-6).
  assert.deepStrictEqual(formatCommand({ verb: 'TRACK', envid: '<a@b>', secret: TV1 }), {
    ok: true,
    value: 'TRACK <<a@b>> AAECAwQFBgcICQoLDA0ODw\r\n',
  })
  assert.deepStrictEqual(formatCommand({ verb: 'STARTTLS', domain: 'mtqp.example.com' }), {
    ok: true,
    value: 'STARTTLS mtqp.example.com\r\n',
  })
  assert.deepStrictEqual(formatCommand({ verb: 'QUIT' }), { ok: true, value: 'QUIT\r\n' })
  assert.deepStrictEqual(formatCommand({ verb: 'COMMENT' }), { ok: true, value: 'COMMENT\r\n' })
  assert.deepStrictEqual(formatCommand({ verb: 'COMMENT', text: 'hi there' }), {
    ok: true,
    value: 'COMMENT hi there\r\n',
  })
})

test('formatCommand refuses what could not be parsed back', () => {
  const bad: ClientCommand[] = [
    { verb: 'TRACK', envid: 'no-at', secret: TV1 },
    { verb: 'TRACK', envid: 'a b@c', secret: TV1 },
    { verb: 'TRACK', envid: 'a@b.c', secret: Buffer.alloc(0) },
    { verb: 'TRACK', envid: `${'a'.repeat(980)}@b.c`, secret: TV1 },
    { verb: 'STARTTLS', domain: 'localhost' },
    { verb: 'STARTTLS', domain: 'a.example\r\nTRACK' },
    { verb: 'COMMENT', text: 'two\r\nlines' },
  ]
  for (const c of bad) assert.equal(formatCommand(c).ok, false, JSON.stringify(c))
  assert.equal(
    formatCommand({ verb: 'STARTTLS', domain: 'localhost' }, { allowSingleLabelFqdn: true }).ok,
    true,
  )
})

test('property: parseCommand never throws and returns a known verb for any string', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 60 })), (s) => {
      const c = parseCommand(s)
      assert.ok(['TRACK', 'STARTTLS', 'QUIT', 'COMMENT', 'bad'].includes(c.verb))
    }),
    { numRuns: 3000 },
  )
  // Strings built from command-like pieces reach deeper branches than uniform noise.
  const piece = fc.constantFrom(
    'TRACK',
    'track',
    'STARTTLS',
    'QUIT',
    'COMMENT',
    ' ',
    '\t',
    '<',
    '>',
    '@',
    '=',
    '+',
    '+2B',
    'a',
    'b.example',
    'QUJD',
    'QQ==',
    '/',
    '.',
    '\r',
    '\x00',
  )
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
      parseCommand(parts.join(''))
      parseCommand(parts.join(''), { allowSingleLabelFqdn: true })
    }),
    { numRuns: 3000 },
  )
})

// Envids drawn from the whole xtext alphabet, including "+XX", "<" and ">" and extra "@".
const xchar = fc
  .integer({ min: 0x21, max: 0x7e })
  .filter((c) => c !== 0x2b && c !== 0x3d)
  .map((c) => String.fromCharCode(c))
const hexchar = fc
  .integer({ min: 0, max: 255 })
  .map((n) => `+${n.toString(16).toUpperCase().padStart(2, '0')}`)
const xtext1 = fc.array(fc.oneof(xchar, hexchar), { minLength: 1, maxLength: 20 }).map((a) => a.join(''))
const envidArb = fc.tuple(xtext1, xtext1).map(([l, f]) => `${l}@${f}`)
const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/)
const fqdnArb = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join('.'))

test('property: parseCommand(formatCommand(c)) gives c back', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.record({
          verb: fc.constant('TRACK' as const),
          envid: envidArb,
          secret: fc.uint8Array({ minLength: 1, maxLength: 128 }).map((a) => Buffer.from(a)),
        }),
        fc.record({ verb: fc.constant('STARTTLS' as const), domain: fqdnArb }),
        fc.constant({ verb: 'QUIT' as const }),
        fc.record({
          verb: fc.constant('COMMENT' as const),
          text: fc.stringMatching(/^([!-~][\t -~]{0,40})?$/),
        }),
      ),
      fc.boolean(),
      (c: ClientCommand, bracketEnvid) => {
        const wire = formatCommand(c, { bracketEnvid })
        assert.ok(wire.ok)
        assert.ok(wire.value.endsWith('\r\n'))
        const parsed = parseCommand(wire.value.slice(0, -2))
        if (c.verb === 'TRACK') {
          assert.equal(parsed.verb, 'TRACK')
          if (parsed.verb === 'TRACK') {
            assert.equal(parsed.envid, c.envid)
            assert.deepStrictEqual(parsed.secret, c.secret)
          }
        } else if (c.verb === 'COMMENT') {
          assert.deepStrictEqual(parsed, { verb: 'COMMENT', text: c.text ?? '' })
        } else {
          // fc.record builds null-prototype objects; compare plain copies.
          assert.deepStrictEqual(parsed, { ...c })
        }
      },
    ),
    { numRuns: 1000 },
  )
})
