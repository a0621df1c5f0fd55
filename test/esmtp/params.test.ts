import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  type ParamPolicy,
  parseEnvid,
  parseMailParams,
  parseMtrk,
  parseNotify,
  parseOrcpt,
  parseRcptParams,
  parseRet,
  splitCommandParams,
  unpadMtrkParam,
} from '../../src/esmtp/params'
import { encodeXtext } from '../../src/esmtp/xtext'
import { decodeBase64Strict, encodeBase64 } from '../../src/util/base64'

const policy: ParamPolicy = {
  allowed: new Set(['SIZE', 'BODY', 'SMTPUTF8', 'AUTH']),
  rejectUnknown: true,
  mtrkWithoutEnvid: 'reject',
}

// TV-1: A = 00..0f, B = SHA-1(A)
const TV1_B = '56178b86a57fac22899a9964185c2cc96e7da589'

test('TV-1: the MTRK certifier decodes to B, padded or not (AMB-2)', () => {
  for (const v of ['VheLhqV/rCKJmplkGFwsyW59pYk:86400', 'VheLhqV/rCKJmplkGFwsyW59pYk=:86400']) {
    const r = parseMtrk(v)
    assert.ok(r.ok, v)
    assert.equal(decodeBase64Strict(r.value.certifier, { allowPadding: false })?.toString('hex'), TV1_B)
    assert.equal(r.value.timeout, 86400)
    assert.equal(
      r.value.certifier,
      'VheLhqV/rCKJmplkGFwsyW59pYk',
      'B unchanged, without padding (MTRK-17, AMB-2)',
    )
  }
  const bare = parseMtrk('VheLhqV/rCKJmplkGFwsyW59pYk')
  assert.ok(bare.ok)
  assert.equal(bare.value.timeout, null)
})

test('MTRK-3: malformed certifiers and timeouts are refused', () => {
  const b19 = encodeBase64(Buffer.alloc(19), { padding: false })
  const b21 = encodeBase64(Buffer.alloc(21), { padding: false })
  const cases = {
    empty: null,
    'bad!!': 'bad!!',
    '19 octets': b19,
    '21 octets': b21,
    'junk inside': 'VheLhqV/rCKJmp lkGFwsyW59pYk',
    'non-digit timeout': 'VheLhqV/rCKJmplkGFwsyW59pYk:12a',
    '10-digit timeout (AMB-19)': 'VheLhqV/rCKJmplkGFwsyW59pYk:1234567890',
    'empty timeout': 'VheLhqV/rCKJmplkGFwsyW59pYk:',
    'negative timeout': 'VheLhqV/rCKJmplkGFwsyW59pYk:-1',
    'wrong padding': 'VheLhqV/rCKJmplkGFwsyW59pYk==',
    'non-canonical last char': 'VheLhqV/rCKJmplkGFwsyW59pYl',
  }
  for (const [name, v] of Object.entries(cases)) assert.equal(parseMtrk(v).ok, false, name)
})

test('AMB-19: timeout 0 and 999999999 are accepted', () => {
  const zero = parseMtrk('VheLhqV/rCKJmplkGFwsyW59pYk:0')
  assert.ok(zero.ok)
  assert.equal(zero.value.timeout, 0)
  const max = parseMtrk('VheLhqV/rCKJmplkGFwsyW59pYk:999999999')
  assert.ok(max.ok)
  assert.equal(max.value.timeout, 999999999)
})

test('ENVID: xtext of any length, printable once decoded (DSN-8, AMB-38)', () => {
  const r = parseEnvid('1+2B2@h.example.com')
  assert.ok(r.ok)
  assert.deepEqual(r.value, { xtext: '1+2B2@h.example.com', decoded: '1+2@h.example.com' })
  assert.ok(parseEnvid('a'.repeat(100)).ok)
  // Issue 10 case 5: a 115-character unique-envid shaped like a long Message-ID.
  const long = `${'0123456789abcdef'.repeat(6)}.x@mail.example.org`
  assert.equal(long.length, 115)
  assert.deepEqual(parseEnvid(long), { ok: true, value: { xtext: long, decoded: long } })
  assert.ok(parseEnvid('a+2bb@lower.hex').ok, 'lower-case hex')
  assert.equal(parseEnvid('ab+ZZ').ok, false)
  assert.equal(parseEnvid('j+C3+B6rg@x').ok, false, '8-bit octets: Postfix refuses them too')
  assert.equal(parseEnvid('jörg@x').ok, false, 'raw UTF-8 is not xtext')
  assert.equal(parseEnvid('ab+0Acd').ok, false, 'LF smuggled through xtext')
  assert.ok(parseEnvid('ab+00cd').ok, 'NUL: Postfix accepts it too (AMB-38)')
  assert.equal(parseEnvid(null).ok, false)
})

test('RET: FULL or HDRS in any case, kept as received', () => {
  assert.deepEqual(parseRet('hdrs'), { ok: true, value: 'hdrs' })
  assert.deepEqual(parseRet('FULL'), { ok: true, value: 'FULL' })
  for (const bad of [null, '', 'BODY', 'FULLY']) assert.equal(parseRet(bad).ok, false)
})

test('NOTIFY: NEVER alone or a list of SUCCESS/FAILURE/DELAY (DSN-5), as leniently as Postfix (AMB-38)', () => {
  const r = parseNotify('success,Delay')
  assert.ok(r.ok)
  assert.deepEqual(
    r.value,
    { raw: 'success,Delay', never: false, success: true, failure: false, delay: true },
    'as received (DSN-10)',
  )
  assert.ok(parseNotify('NEVER').ok)
  for (const lenient of ['SUCCESS,SUCCESS', 'SUCCESS,', ',FAILURE', 'SUCCESS,,DELAY', 'never,NEVER']) {
    assert.ok(parseNotify(lenient).ok, lenient)
  }
  assert.deepEqual(parseNotify('SUCCESS,,SUCCESS'), {
    ok: true,
    value: { raw: 'SUCCESS,,SUCCESS', never: false, success: true, failure: false, delay: false },
  })
  for (const bad of [null, '', ',', 'NEVER,SUCCESS', 'ALWAYS', 'SUCCESS FAILURE', 'SUCCESS;FAILURE']) {
    assert.equal(parseNotify(bad).ok, false, String(bad))
  }
})

test('ORCPT: addr-type;xtext, letter case kept (DSN-6, DSN-10); refused only where Postfix refuses (AMB-38)', () => {
  const r = parseOrcpt('rfc822;Orig+2Bx@Client.Test')
  assert.ok(r.ok)
  assert.deepEqual(r.value, {
    raw: 'rfc822;Orig+2Bx@Client.Test',
    addrType: 'rfc822',
    address: 'Orig+x@Client.Test',
  })
  assert.ok(parseOrcpt(`rfc822;${'a'.repeat(600)}`).ok, 'longer than 500')
  // Issue 10 case 2: xtext of UTF-8 octets, as a common Node client writes it.
  assert.deepEqual(parseOrcpt('rfc822;j+C3+B6rg@example.org'), {
    ok: true,
    value: { raw: 'rfc822;j+C3+B6rg@example.org', addrType: 'rfc822', address: 'jörg@example.org' },
  })
  for (const lenient of [
    'rfc822;',
    'rfc822;a+0Db@c',
    'rfc822;a+2bb@c',
    'r(fc822;x@y',
    'rfc822;a;b@c',
    'rfc822;jörg@x',
  ]) {
    assert.ok(parseOrcpt(lenient).ok, lenient)
  }
  for (const bad of [
    null,
    'rfc822',
    ';a@b',
    'rfc822;a+G0',
    'rfc822;a+2',
    'utf-8;a\\x{zz}b@x',
    'utf-8;a\\x{110000}',
  ]) {
    assert.equal(parseOrcpt(bad).ok, false, String(bad))
  }
})

test('ORCPT of RFC 6533 type utf-8: unitext and \\x{HEX} forms decode to the Unicode address (issue 10 case 1)', () => {
  const cases: Array<[string, string]> = [
    ['utf-8;jörg@example.org', 'jörg@example.org'],
    ['utf-8;müller\\x{2B}tag@example.org', 'müller+tag@example.org'],
    ['UTF-8;j\\x{F6}rg@example.org', 'jörg@example.org'],
    ['utf-8;j+C3+B6rg@example.org', 'jörg@example.org'],
    ['utf-8;\\x{1F600}@example.org', '\u{1F600}@example.org'],
    ['utf-8;back\\slash@x', 'back\\slash@x'],
  ]
  for (const [value, address] of cases) {
    const r = parseOrcpt(value)
    assert.ok(r.ok, value)
    assert.equal(r.value.address, address, value)
    assert.equal(r.value.raw, value, 'kept as received for forwarding (DSN-10, AMB-39)')
  }
})

test('splitCommandParams keeps order and duplicates that Haraka collapses (HRK-2)', () => {
  assert.deepEqual(splitCommandParams('MAIL FROM:<a@b.c> SIZE=10 envid=x ENVID=y BODY=8BITMIME SMTPUTF8'), [
    { keyword: 'SIZE', value: '10' },
    { keyword: 'ENVID', value: 'x' },
    { keyword: 'ENVID', value: 'y' },
    { keyword: 'BODY', value: '8BITMIME' },
    { keyword: 'SMTPUTF8', value: null },
  ])
  assert.deepEqual(splitCommandParams('RCPT TO:<"a b"@c.d> NOTIFY=NEVER'), [
    { keyword: 'NOTIFY', value: 'NEVER' },
  ])
  assert.deepEqual(splitCommandParams('mail from: <> MTRK=abc=:5'), [{ keyword: 'MTRK', value: 'abc=:5' }])
  assert.deepEqual(splitCommandParams('MAIL FROM:<a@b.c>'), [])
  assert.equal(splitCommandParams('EHLO x'), null)
})

test('splitCommandParams: a bare path after the colon is the path, as Haraka reads it (issue 10 case 4)', () => {
  assert.deepEqual(splitCommandParams('RCPT TO: postmaster'), [])
  assert.deepEqual(splitCommandParams('RCPT TO:postmaster NOTIFY=NEVER'), [
    { keyword: 'NOTIFY', value: 'NEVER' },
  ])
  assert.deepEqual(splitCommandParams('MAIL FROM: user=name@example.net'), [])
  assert.deepEqual(splitCommandParams('RCPT TO: u@example.org ORCPT=rfc822;u@example.org'), [
    { keyword: 'ORCPT', value: 'rfc822;u@example.org' },
  ])
})

const mail = (line: string, p: ParamPolicy = policy) => parseMailParams(splitCommandParams(line) ?? [], p)
const rcpt = (line: string) => parseRcptParams(splitCommandParams(line) ?? [], policy)

test('MAIL: a full set of valid parameters parses (DSN-1, MTRK-3)', () => {
  const r = mail(
    'MAIL FROM:<a@b.c> SIZE=100 ENVID=1@h.example.com RET=HDRS MTRK=VheLhqV/rCKJmplkGFwsyW59pYk:86400',
  )
  assert.ok(r.ok)
  assert.equal(r.value.envid?.decoded, '1@h.example.com')
  assert.equal(r.value.ret, 'HDRS')
  assert.equal(r.value.mtrk?.certifier, 'VheLhqV/rCKJmplkGFwsyW59pYk')
})

test('MAIL: rejections name the parameter and use 501/555 5.5.4 (DSN-3, MTRK-3, MTRK-6, AMB-9, AMB-10)', () => {
  const M = 'MTRK=VheLhqV/rCKJmplkGFwsyW59pYk'
  const cases: Array<[string, number, RegExp]> = [
    [`ENVID=a@b.c ${M} ${M}`, 501, /Duplicate MTRK/],
    ['ENVID=a@b.c ENVID=a@b.c', 501, /Duplicate ENVID/],
    ['RET=FULL RET=HDRS', 501, /Duplicate RET/],
    ['ENVID=ab+ZZ', 501, /ENVID/],
    ['RET=BODY', 501, /RET/],
    ['MTRK=bad!!', 501, /MTRK/],
    [M, 501, /MTRK requires ENVID/],
    [`ENVID=noat ${M}`, 501, /local@fqhn/],
    [`ENVID=a@ ${M}`, 501, /local@fqhn/],
    ['FOO=bar', 555, /Unsupported MAIL FROM parameter FOO/],
    ['NOTIFY=NEVER', 555, /NOTIFY/],
  ]
  for (const [params, code, message] of cases) {
    const r = mail(`MAIL FROM:<a@b.c> ${params}`)
    assert.equal(r.ok, false, params)
    if (r.ok) continue
    assert.equal(r.error.code, code, params)
    assert.equal(r.error.status, '5.5.4')
    assert.match(r.error.message, message, params)
  }
})

test('AMB-9 "ignore": MTRK without a unique ENVID is dropped, the message accepted', () => {
  const r = mail('MAIL FROM:<a@b.c> MTRK=VheLhqV/rCKJmplkGFwsyW59pYk', {
    ...policy,
    mtrkWithoutEnvid: 'ignore',
  })
  assert.ok(r.ok)
  assert.equal(r.value.mtrk, undefined)
  assert.match(r.value.mtrkIgnored ?? '', /requires ENVID/)
})

test('unknown parameters pass when allowed or when rejection is off', () => {
  assert.ok(mail('MAIL FROM:<a@b.c> AUTH=<> BODY=8BITMIME').ok)
  assert.ok(mail('MAIL FROM:<a@b.c> FOO=bar', { ...policy, rejectUnknown: false }).ok)
})

test('RCPT: NOTIFY/ORCPT parse; duplicates, bad values and MAIL-only keywords are refused (DSN-4)', () => {
  const r = rcpt('RCPT TO:<u@x.y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@x.y')
  assert.ok(r.ok)
  assert.equal(r.value.notify?.raw, 'SUCCESS,FAILURE')
  assert.equal(r.value.orcpt?.address, 'u@x.y')
  const bad: Array<[string, number]> = [
    ['NOTIFY=NEVER NOTIFY=NEVER', 501],
    ['NOTIFY=SUCCESS,NEVER', 501],
    ['ORCPT=rfc822;a@b ORCPT=rfc822;a@b', 501],
    ['NOTIFY=SOMETIMES', 501],
    ['ORCPT=nonsense', 501],
    ['ENVID=x', 555],
    ['MTRK=VheLhqV/rCKJmplkGFwsyW59pYk', 555],
  ]
  for (const [params, code] of bad) {
    const res = rcpt(`RCPT TO:<u@x.y> ${params}`)
    assert.equal(res.ok ? 0 : res.error.code, code, params)
  }
})

test('MTRK-4, DSN-9: the longest legal MAIL and RCPT parameter sets parse', () => {
  const envid = `${'e'.repeat(90)}@h.example`
  const line = `MAIL FROM:<${'s'.repeat(64)}@${'d'.repeat(180)}.example> ENVID=${envid} RET=HDRS MTRK=VheLhqV/rCKJmplkGFwsyW59pYk=:999999999 SIZE=26214400 BODY=8BITMIME SMTPUTF8`
  assert.ok(mail(line).ok)
  const orcpt = `rfc822;${'o'.repeat(480)}+2B@example`
  assert.ok(rcpt(`RCPT TO:<${'r'.repeat(64)}@example> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=${orcpt}`).ok)
})

test('property: an MTRK certifier made from any SHA-1 round-trips to the same B', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 128 }),
      fc.option(fc.nat(999999999)),
      (a, timeout) => {
        const b = createHash('sha1').update(a).digest()
        const r = parseMtrk(encodeBase64(b, { padding: false }) + (timeout === null ? '' : `:${timeout}`))
        assert.ok(r.ok)
        assert.equal(r.value.certifier, encodeBase64(b, { padding: false }))
        assert.equal(r.value.timeout, timeout)
      },
    ),
  )
})

test('property: any printable ENVID once encoded round-trips through parseEnvid, whatever its length', () => {
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.integer({ min: 32, max: 126 }).map((c) => String.fromCharCode(c)),
        maxLength: 300,
      }),
      (s) => {
        const x = encodeXtext(s)
        const r = parseEnvid(x)
        if (x.length === 0) return assert.equal(r.ok, false)
        assert.ok(r.ok)
        assert.equal(r.value.decoded, s)
      },
    ),
  )
})

test('property: no input makes the parameter parsers throw', () => {
  const anyValue = fc.option(fc.string({ unit: 'binary' }))
  fc.assert(
    fc.property(anyValue, (v) => {
      parseEnvid(v)
      parseRet(v)
      parseMtrk(v)
      parseNotify(v)
      parseOrcpt(v)
    }),
  )
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (line) => {
      const params = splitCommandParams(`MAIL FROM:${line}`) ?? []
      parseMailParams(params, policy)
      parseRcptParams(params, policy)
    }),
  )
})

test('AMB-2: unpadMtrkParam drops only the padding of an MTRK certifier', () => {
  assert.equal(
    unpadMtrkParam('FROM:<a@b> ENVID=x MTRK=VheLhqV/rCKJmplkGFwsyW59pYk=:86400'),
    'FROM:<a@b> ENVID=x MTRK=VheLhqV/rCKJmplkGFwsyW59pYk:86400',
  )
  assert.equal(unpadMtrkParam('FROM:<a@b> mtrk=QUI= SIZE=1'), 'FROM:<a@b> mtrk=QUI SIZE=1')
  assert.equal(unpadMtrkParam('FROM:<a@b> MTRK=QQ=='), 'FROM:<a@b> MTRK=QQ')
  for (const same of [
    'FROM:<a@b> MTRK=abc',
    'FROM:<a@b> XMTRK=QUI=',
    'FROM:<a=@b> ENVID=x',
    'FROM:<a@b> MTRK=QQ=x',
  ]) {
    assert.equal(unpadMtrkParam(same), same)
  }
})
