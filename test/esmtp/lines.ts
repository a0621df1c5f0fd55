// MAIL/RCPT lines for the acceptance rule (src/esmtp/acceptance.ts): a corpus of lines real clients and MTAs send, the
// RFC examples and issue 10's failing inputs, each with the verdict the rule gives; and fast-check arbitraries for
// lines the rule accepts, and for the same lines with exactly one listed fault.
import fc from 'fast-check'
import type { RefusalKind } from '../../src/esmtp/acceptance'
import { encodeXtext } from '../../src/esmtp/xtext'

/**
 * What the plugin must answer: as Haraka without it ('accept'), one of the rule's refusals, what Haraka refuses itself
 * ('haraka'), or 250 where Haraka alone refuses a padded MTRK certifier ('amb2': the plugin is more lenient, AMB-2).
 */
export type Verdict = 'accept' | 'haraka' | 'amb2' | RefusalKind

export interface CorpusLine {
  line: string
  expect: Verdict
  source: string
}

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk' // TV-1 certifier
const LONG_ENVID = `${'0123456789abcdef'.repeat(6)}.x@mail.example.org` // 115 characters, issue 10 case 5

const accept = (source: string, ...lines: string[]): CorpusLine[] =>
  lines.map((line) => ({ line, expect: 'accept', source }))
const refuse = (expect: RefusalKind, source: string, ...lines: string[]): CorpusLine[] =>
  lines.map((line) => ({ line, expect, source }))
const haraka = (source: string, ...lines: string[]): CorpusLine[] =>
  lines.map((line) => ({ line, expect: 'haraka', source }))

export const CORPUS: readonly CorpusLine[] = [
  // Issue 10's failing inputs (addresses replaced), each the right value.
  ...accept(
    'issue 10 case 1 (RFC 6533 utf-8 ORCPT)',
    'RCPT TO:<jörg@example.org> ORCPT=utf-8;jörg@example.org',
    'RCPT TO:<jörg@example.org> ORCPT=utf-8;müller\\x{2B}tag@example.org',
    'RCPT TO:<jörg@example.org> ORCPT=UTF-8;j\\x{F6}rg@example.org',
    'RCPT TO:<jörg@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=utf-8;j\\x{F6}rg@example.org',
  ),
  ...accept(
    'issue 10 case 2 (xtext of UTF-8 octets)',
    'RCPT TO:<you@example.org> ORCPT=rfc822;j+C3+B6rg@example.org',
    'RCPT TO:<you@example.org> ORCPT=rfc822;j+c3+b6rg@example.org',
  ),
  ...accept(
    'issue 10 case 3 (SMTPUTF8 recipient)',
    `MAIL FROM:<s@example.org> ENVID=1@h.example.org MTRK=${B} SMTPUTF8`,
    'RCPT TO:<jörg@example.org>',
  ),
  ...accept('issue 10 case 4 (bare path after a space)', 'RCPT TO: postmaster', 'RCPT TO:postmaster'),
  ...accept(
    'issue 10 case 5 (ENVID over 100, AMB-38)',
    `MAIL FROM:<s@example.org> ENVID=${LONG_ENVID} MTRK=${B}`,
    `MAIL FROM:<s@example.org> ENVID=${'e'.repeat(300)}@h.example.org`,
  ),
  // RFC 3461 §9 (the example of §6.4's session) and RFC 3885 / requirements TV-1.
  ...accept(
    'RFC 3461 examples',
    'MAIL FROM:<Alice@Hoppy.ABC> RET=HDRS ENVID=QQ314159',
    'RCPT TO:<Bob@Hoppy.ABC> NOTIFY=SUCCESS',
    'RCPT TO:<Carol@Ivory.EDU> NOTIFY=FAILURE ORCPT=rfc822;Carol@Ivory.EDU',
    'RCPT TO:<Dana@Ivory.EDU> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Dana@Ivory.EDU',
    'RCPT TO:<Eric@Bombs.AF.MIL> NOTIFY=FAILURE ORCPT=rfc822;Eric@Bombs.AF.MIL',
    'RCPT TO:<Fred@Bombs.AF.MIL> NOTIFY=NEVER',
    'RCPT TO:<George@Tax-ME.GOV> NOTIFY=FAILURE ORCPT=rfc822;George@Tax-ME.GOV',
    'MAIL FROM:<a@example.org> ENVID=user+2Btag@example.org',
    'RCPT TO:<a=b@example.org> ORCPT=rfc822;a+3Db+20c@example.org',
  ),
  ...accept(
    'RFC 3885 / TV-1',
    `MAIL FROM:<a@example.com> ENVID=1@h.example.com MTRK=${B}:86400`,
    `MAIL FROM:<a@example.com> ENVID=1@h.example.com MTRK=${B}`,
    `MAIL FROM:<a@example.com> ENVID=1@h.example.com MTRK=${B}:0`,
  ),
  ...accept(
    'RFC 6533 §3 forms',
    'RCPT TO:<x@example.org> ORCPT=utf-8;\\x{4F8B}\\x{3048}@example.org',
    'RCPT TO:<x@example.org> ORCPT=utf-8;例え@例え.jp',
    'RCPT TO:<x@example.org> ORCPT=utf-8;a\\b@example.org',
    'RCPT TO:<x@example.org> ORCPT=utf-8;a\\x{5C}b@example.org',
    'RCPT TO:<x@example.org> ORCPT=utf-8;',
  ),
  // What common clients and MTAs send (shapes from their sources and public bug reports).
  ...accept(
    "Python smtplib (lower-case verb, 'size=')",
    'mail FROM:<s@example.org> size=1234',
    'rcpt TO:<r@example.org>',
    'mail FROM:<s@example.org> size=1234 ENVID=abc RET=FULL',
    'rcpt TO:<r@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig+2Bx@client.test',
  ),
  ...accept(
    'Nodemailer',
    'MAIL FROM:<s@example.org> BODY=8BITMIME SMTPUTF8 SIZE=2048',
    'MAIL FROM:<s@example.org> RET=HDRS ENVID=c3dd7a86-1a8c-4d6e-9e4a-0a5b1c7d9e10@example.org',
    'RCPT TO:<r@example.org> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;r@example.org',
    'RCPT TO:<r@example.org> NOTIFY=NEVER',
  ),
  ...accept(
    'go-smtp / emersion',
    'MAIL FROM:<s@example.org> BODY=8BITMIME SMTPUTF8 AUTH=<>',
    'MAIL FROM:<s@example.org> BODY=7BIT',
    'MAIL FROM:<s@example.org> RET=HDRS ENVID=XYZ',
    'RCPT TO:<r@example.org> NOTIFY=DELAY,FAILURE ORCPT=RFC822;R@EXAMPLE.ORG',
  ),
  ...accept(
    'curl',
    'MAIL FROM:<s@example.org> SIZE=100',
    'MAIL FROM:<s@example.org> AUTH=<s@example.org>',
    'MAIL FROM:<s@example.org> SMTPUTF8',
    'RCPT TO:<r@example.org>',
  ),
  ...accept(
    'MailKit',
    'MAIL FROM:<s@example.org> SMTPUTF8 BODY=8BITMIME RET=FULL ENVID=MAILKIT+2B1@example.org',
    'RCPT TO:<r@example.org> NOTIFY=SUCCESS ORCPT=rfc822;r@example.org',
    'RCPT TO:<jörg@example.org> NOTIFY=FAILURE ORCPT=utf-8;jörg@example.org',
  ),
  ...accept(
    'smtp-cli',
    'MAIL FROM:<s@example.org> SIZE=512',
    'RCPT TO:<r@example.org>',
    'MAIL FROM: <s@example.org>',
    'RCPT TO: <r@example.org>',
  ),
  ...accept(
    'OpenSMTPD (relaying with DSN)',
    'MAIL FROM:<s@example.org> RET=HDRS ENVID=e7f1c2d3a4b5c6d7',
    'RCPT TO:<r@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;r@example.org',
    'RCPT TO:<r@example.org> ORCPT=rfc822;Original+2BTag@Example.ORG',
  ),
  ...accept(
    'Postfix smtp(8) as client',
    'MAIL FROM:<s@example.org> SIZE=1234 BODY=8BITMIME ENVID=5A3E820C971.1764545158@postfix.test RET=HDRS',
    'RCPT TO:<r@example.org> NOTIFY=FAILURE ORCPT=rfc822;r@example.org',
    'RCPT TO:<r@example.org> ORCPT=rfc822;r@example.org',
    'MAIL FROM:<> SIZE=2345 ENVID=bounce1@postfix.test',
  ),
  ...accept(
    'Exim and Sendmail',
    'MAIL FROM:<s@example.org> SIZE=1234 RET=HDRS ENVID=1kZqXy-0004Hw-Mb@exim.example',
    'MAIL From:<s@example.org> SIZE=2000 BODY=8BITMIME',
    'RCPT To:<r@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;r@example.org',
    'MAIL FROM:<s@example.org> ENVID=sendmail+2Bid@example.org RET=FULL',
  ),
  ...accept(
    'address forms Haraka accepts',
    'MAIL FROM:<>',
    'MAIL FROM:<> ENVID=dsn1@example.org',
    'MAIL FROM:s@example.org',
    'RCPT TO:r@example.org',
    'RCPT TO:<"john doe"@example.org>',
    'RCPT TO:<r@[127.0.0.1]>',
    'RCPT TO:<@relay.example.org:r@example.org>',
    'RCPT TO:<Postmaster>',
    'RCPT TO:<r@EXAMPLE.ORG>',
  ),
  // AMB-38: what RFC 3461 calls unusual but Postfix (and plain Haraka) accept.
  ...accept(
    'AMB-38 lenient forms',
    'MAIL FROM:<s@example.org> ENVID=a+2bb@lower.example',
    'MAIL FROM:<s@example.org> ret=hdrs envid=lower@case.example',
    `RCPT TO:<r@example.org> ORCPT=rfc822;${'o'.repeat(600)}@example.org`,
    'RCPT TO:<r@example.org> ORCPT=rfc822;j+01rg@example.org',
    'RCPT TO:<r@example.org> ORCPT=rfc822;',
    'RCPT TO:<r@example.org> ORCPT=rfc822;jörg@example.org',
    'RCPT TO:<r@example.org> ORCPT=rfc822;a;b@example.org',
    'RCPT TO:<r@example.org> ORCPT=r(fc822;x@example.org',
    'RCPT TO:<r@example.org> ORCPT=x-unknown-type;anything',
    'RCPT TO:<r@example.org> NOTIFY=SUCCESS,SUCCESS',
    'RCPT TO:<r@example.org> NOTIFY=SUCCESS,',
    'RCPT TO:<r@example.org> NOTIFY=,FAILURE',
    'RCPT TO:<r@example.org> NOTIFY=never',
    'RCPT TO:<r@example.org> NOTIFY=NEVER,NEVER',
    'RCPT TO:<r@example.org> notify=success orcpt=rfc822;r@example.org',
    'MAIL FROM:<s@example.org> AUTH=<> BODY=8BITMIME SIZE=0 SMTPUTF8 RET=HDRS ENVID=x',
    'MAIL FROM:<s@example.org> REQUIRETLS',
    'MAIL FROM:<s@example.org> MT-PRIORITY=3',
  ),
  // The rule's refusals: required by the RFCs, and Postfix refuses them too.
  ...refuse(
    'envid',
    'RFC 3461 §4.4 xtext',
    'MAIL FROM:<s@example.org> ENVID=ab+ZZ',
    'MAIL FROM:<s@example.org> ENVID=ab+2',
    'MAIL FROM:<s@example.org> ENVID=jörg@example.org',
    'MAIL FROM:<s@example.org> ENVID=a+0Db@example.org',
    'MAIL FROM:<s@example.org> ENVID=j+C3+B6rg@example.org',
    'MAIL FROM:<s@example.org> ENVID',
  ),
  ...refuse(
    'ret',
    'RFC 3461 §4.3',
    'MAIL FROM:<s@example.org> RET=ALL',
    'MAIL FROM:<s@example.org> RET=FULLY',
    'MAIL FROM:<s@example.org> RET',
  ),
  ...refuse(
    'mtrk',
    'RFC 3885 §3.1, §3.2',
    'MAIL FROM:<s@example.org> ENVID=1@h.example.org MTRK=bad!!',
    'MAIL FROM:<s@example.org> ENVID=1@h.example.org MTRK=AAAAAAAAAAAAAAAAAAAAAAAAAA',
    `MAIL FROM:<s@example.org> ENVID=1@h.example.org MTRK=${B}:12x`,
    `MAIL FROM:<s@example.org> ENVID=1@h.example.org MTRK=${B}:1234567890`,
    `MAIL FROM:<s@example.org> MTRK=${B}`,
    `MAIL FROM:<s@example.org> ENVID=no-at-sign MTRK=${B}`,
  ),
  ...refuse(
    'notify',
    'RFC 3461 §4.1',
    'RCPT TO:<r@example.org> NOTIFY=SOMETIMES',
    'RCPT TO:<r@example.org> NOTIFY=NEVER,SUCCESS',
    'RCPT TO:<r@example.org> NOTIFY=SUCCESS;FAILURE',
    'RCPT TO:<r@example.org> NOTIFY=,',
    'RCPT TO:<r@example.org> NOTIFY',
  ),
  ...refuse(
    'orcpt',
    'RFC 3461 §4.2, RFC 6533 §3',
    'RCPT TO:<r@example.org> ORCPT=r@example.org',
    'RCPT TO:<r@example.org> ORCPT=;r@example.org',
    'RCPT TO:<r@example.org> ORCPT=rfc822;r+ZZ@example.org',
    'RCPT TO:<r@example.org> ORCPT=rfc822;r+2',
    'RCPT TO:<r@example.org> ORCPT=utf-8;a\\x{zz}b@example.org',
    'RCPT TO:<r@example.org> ORCPT=utf-8;a\\x{F6b@example.org',
    'RCPT TO:<r@example.org> ORCPT=utf-8;a\\x{110000}@example.org',
    'RCPT TO:<r@example.org> ORCPT',
  ),
  ...refuse(
    'duplicate',
    'RFC 3461 §4.5, RFC 3885 §3.1',
    'MAIL FROM:<s@example.org> ENVID=a ENVID=b',
    'MAIL FROM:<s@example.org> RET=FULL RET=HDRS',
    'MAIL FROM:<s@example.org> RET=HDRS ret=hdrs',
    'RCPT TO:<r@example.org> NOTIFY=SUCCESS NOTIFY=FAILURE',
    'RCPT TO:<r@example.org> ORCPT=rfc822;a@b ORCPT=rfc822;a@b',
    `MAIL FROM:<s@example.org> ENVID=1@h.example.org MTRK=${B} MTRK=${B}`,
  ),
  ...refuse(
    'unknown',
    'RFC 5321 §4.1.1.11 (reject_unknown_params)',
    'MAIL FROM:<s@example.org> FOO=bar',
    'MAIL FROM:<s@example.org> XVERP',
    'MAIL FROM:<s@example.org> NOTIFY=NEVER',
    'RCPT TO:<r@example.org> ENVID=1@h.example.org',
    'RCPT TO:<r@example.org> XYZZY',
  ),
  {
    line: `MAIL FROM:<a@example.com> ENVID=1@h.example.com MTRK=${B}=:86400`,
    expect: 'amb2',
    source: 'AMB-2: a padded certifier',
  },
  { line: `MAIL FROM:<a@example.com> ENVID=pad@h.example.com MTRK=${B}=`, expect: 'amb2', source: 'AMB-2' },
  ...accept('Postfix reads an ENVID up to a NUL', 'MAIL FROM:<s@example.org> ENVID=a+00b'),
  // Haraka's own parser refuses these before any plugin sees them: the same reply with and without the plugin.
  ...haraka(
    "Haraka's own refusals",
    'MAIL FROM:<s@example.org> ENVID=',
    'MAIL FROM:<s@example.org> FOO=a=b',
    'RCPT TO:<r@example.org> ORCPT=rfc822;a=b@example.org',
    'MAIL FROM:<s@example.org> SIZE=1=2 ENVID=x',
  ),
]

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries.

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 150,
})
const word = fc.stringMatching(/^[a-z0-9]{1,12}$/)
const unicodeWord = fc.constantFrom('jörg', 'müller', '例え', 'δοκιμή', 'ñandú', 'user', 'a.b')
const domain = fc.constantFrom('example.org', 'example.com', 'Example.ORG')
const keywordCase = (k: string) => fc.constantFrom(k, k.toLowerCase())

/** xtext as senders write it: upper- or lower-case hex. */
const xtext = (s: string, lower: boolean) =>
  lower ? encodeXtext(s).replace(/\+([0-9A-F]{2})/g, (_, h: string) => `+${h.toLowerCase()}`) : encodeXtext(s)

const envid = fc
  .tuple(printable, fc.boolean())
  .map(([s, lower]) => xtext(s, lower))
  .filter((x) => x.length > 0)
const uniqueEnvid = fc.tuple(word, domain).map(([l, d]) => `${l}@${d}`)
const certifier = fc
  .uint8Array({ minLength: 20, maxLength: 20 })
  .map((b) => Buffer.from(b).toString('base64').replace(/=+$/, ''))

const orcptValue = fc.oneof(
  fc.tuple(printable, fc.boolean()).map(([s, lower]) => `rfc822;${xtext(s, lower)}`),
  fc
    .tuple(unicodeWord, domain)
    .map(([u, d]) => `rfc822;${xtext(Buffer.from(`${u}@${d}`, 'utf8').toString('latin1'), false)}`),
  fc.tuple(unicodeWord, domain).map(([u, d]) => `utf-8;${u}@${d}`),
  fc
    .tuple(unicodeWord, domain)
    .map(
      ([u, d]) =>
        `UTF-8;${[...`${u}@${d}`].map((c) => (c.charCodeAt(0) > 0x7e ? `\\x{${c.codePointAt(0)!.toString(16).toUpperCase()}}` : c)).join('')}`,
    ),
  fc.constantFrom('rfc822;', 'x-local;anything', 'rfc822;a;b'),
)
const notifyValue = fc.oneof(
  fc.constantFrom('NEVER', 'never', 'NEVER,NEVER'),
  fc
    .array(fc.constantFrom('SUCCESS', 'FAILURE', 'DELAY', 'success', 'Delay', ''), {
      minLength: 1,
      maxLength: 5,
    })
    .filter((items) => items.some((i) => i !== ''))
    .map((items) => items.join(',')),
)

const mailPath = fc.oneof(
  fc.constant('<>'),
  fc.tuple(word, domain).map(([l, d]) => `<${l}@${d}>`),
  fc.tuple(word, domain).map(([l, d]) => `${l}@${d}`),
)
const rcptPath = fc.oneof(
  fc.tuple(word, domain).map(([l, d]) => `<${l}@${d}>`),
  fc.tuple(unicodeWord, domain).map(([l, d]) => `<${l}@${d}>`),
  fc.constantFrom('postmaster', '<Postmaster>', '<"a b"@example.org>'),
)
const separator = fc.constantFrom(':', ': ')

/** Parameters a MAIL line may carry, as `keyword=value` texts, none the rule refuses. */
const mailParams = fc
  .record({
    envid: fc.option(fc.oneof(envid, uniqueEnvid)),
    ret: fc.option(fc.constantFrom('FULL', 'HDRS', 'full', 'hdrs')),
    mtrk: fc.option(fc.tuple(certifier, fc.option(fc.nat(999999999)))),
    unique: uniqueEnvid,
    others: fc.subarray(['SIZE=1000', 'BODY=8BITMIME', 'SMTPUTF8', 'AUTH=<>', 'BODY=7BIT']),
  })
  .chain(({ envid, ret, mtrk, unique, others }) => {
    const out: fc.Arbitrary<string>[] = others.map((o) => fc.constant(o))
    // MTRK needs a unique-envid (MTRK-6): give it one.
    const e = mtrk !== null ? unique : envid
    if (e !== null) out.push(keywordCase('ENVID').map((k) => `${k}=${e}`))
    if (ret !== null) out.push(keywordCase('RET').map((k) => `${k}=${ret}`))
    if (mtrk !== null) out.push(fc.constant(`MTRK=${mtrk[0]}${mtrk[1] === null ? '' : `:${mtrk[1]}`}`))
    return out.length === 0
      ? fc.constant<string[]>([])
      : fc.tuple(...out).chain((ps) => fc.shuffledSubarray(ps, { minLength: ps.length }))
  })

const rcptParams = fc
  .record({ notify: fc.option(notifyValue), orcpt: fc.option(orcptValue) })
  .chain(({ notify, orcpt }) => {
    const out: fc.Arbitrary<string>[] = []
    if (notify !== null) out.push(keywordCase('NOTIFY').map((k) => `${k}=${notify}`))
    if (orcpt !== null) out.push(keywordCase('ORCPT').map((k) => `${k}=${orcpt}`))
    return out.length === 0
      ? fc.constant<string[]>([])
      : fc.tuple(...out).chain((ps) => fc.shuffledSubarray(ps, { minLength: ps.length }))
  })

const join = (head: string, params: string[]) => [head, ...params].join(' ')

/** A MAIL or RCPT line the rule accepts (Haraka's own parser may still refuse it; the property checks that first). */
export const acceptedLine: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(keywordCase('MAIL FROM'), separator, mailPath, mailParams)
    .map(([v, s, p, ps]) => join(`${v}${s}${p}`, ps)),
  fc
    .tuple(keywordCase('RCPT TO'), separator, rcptPath, rcptParams)
    .map(([v, s, p, ps]) => join(`${v}${s}${p}`, ps)),
)

/** One listed fault, as the parameter text that carries it, and the refusal it must cause. */
const FAULTS: Record<'MAIL' | 'RCPT', Array<[param: string, kind: RefusalKind]>> = {
  MAIL: [
    ['ENVID=ab+ZZ', 'envid'],
    ['ENVID=a+0Ab', 'envid'],
    ['RET=NEVER', 'ret'],
    ['MTRK=bad!!', 'mtrk'],
  ],
  RCPT: [
    ['NOTIFY=SOMETIMES', 'notify'],
    ['NOTIFY=NEVER,DELAY', 'notify'],
    ['ORCPT=nosemicolon', 'orcpt'],
    ['ORCPT=;a@b', 'orcpt'],
    ['ORCPT=rfc822;a+Q1', 'orcpt'],
    ['ORCPT=utf-8;a\\x{nope}', 'orcpt'],
  ],
}

/** An accepted line with one listed fault added, and the refusal kind the rule must give. */
export const faultyLine: fc.Arbitrary<{ line: string; kind: RefusalKind }> = acceptedLine.chain((line) => {
  const verb = /^mail/i.test(line) ? 'MAIL' : 'RCPT'
  const own = verb === 'MAIL' ? /\s(ENVID|RET|MTRK)=/i : /\s(NOTIFY|ORCPT)=/i
  const faults = FAULTS[verb].filter(([p]) => !new RegExp(`\\s${p.split('=')[0]}=`, 'i').test(line))
  const duplicate = own.exec(line)
  const choices: Array<{ line: string; kind: RefusalKind }> = faults.map(([p, kind]) => ({
    line: `${line} ${p}`,
    kind,
  }))
  if (duplicate) {
    const token = line.slice(duplicate.index + 1).split(' ')[0]!
    choices.push({ line: `${line} ${token}`, kind: 'duplicate' })
  }
  return fc.constantFrom(...choices)
})
