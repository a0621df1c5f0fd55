// MAIL/RCPT parameter handling through a real Haraka over TCP: what a client sees on the wire.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk' // TV-1
let haraka: HarakaInstance

before(async () => {
  haraka = await startHaraka({ redisPort: await sharedRedisPort() })
})
after(() => haraka.stop())

async function session(): Promise<SmtpClient> {
  const { client } = await SmtpClient.connect(haraka.smtpPort)
  const ehlo = await client.cmd('EHLO client.test')
  assert.equal(ehlo.code, 250)
  return client
}

test('MTRK-1, MTRK-2, AMB-21: EHLO advertises MTRK and DSN, without parameters', async () => {
  const { client } = await SmtpClient.connect(haraka.smtpPort)
  const ehlo = await client.cmd('EHLO client.test')
  assert.ok(ehlo.lines.includes('MTRK'), ehlo.text)
  assert.ok(ehlo.lines.includes('DSN'), ehlo.text)
  client.close()
})

test('MTRK-1: after HELO no extension applies; Haraka refuses parameters with 555', async () => {
  const { client } = await SmtpClient.connect(haraka.smtpPort)
  const helo = await client.cmd('HELO client.test')
  assert.equal(helo.code, 250)
  assert.doesNotMatch(helo.text, /MTRK/)
  const mail = await client.cmd(`MAIL FROM:<a@client.test> ENVID=1@h.test MTRK=${B}`)
  assert.equal(mail.code, 555)
  client.close()
})

describe('MAIL FROM rejections name the parameter (DSN-3, MTRK-3, MTRK-6, AMB-9, AMB-10)', () => {
  const cases: Array<[string, number, RegExp]> = [
    [`ENVID=1@h.test MTRK=${B} MTRK=${B}`, 501, /^5\.5\.4 Duplicate MTRK parameter/],
    ['ENVID=1@h.test ENVID=2@h.test', 501, /^5\.5\.4 Duplicate ENVID parameter/],
    ['RET=FULL RET=HDRS', 501, /^5\.5\.4 Duplicate RET parameter/],
    ['ENVID=ab+ZZ', 501, /^5\.5\.4 Syntax error in ENVID parameter: ENVID is not valid xtext/],
    ['ENVID=ab+0Dcd@h.test', 501, /^5\.5\.4 Syntax error in ENVID parameter: .*non-printable/],
    ['RET=ALL', 501, /^5\.5\.4 Syntax error in RET parameter/],
    ['ENVID=1@h.test MTRK=bad!!', 501, /^5\.5\.4 Syntax error in MTRK parameter: .*base64/],
    [
      'ENVID=1@h.test MTRK=AAAAAAAAAAAAAAAAAAAAAAAAAA',
      501,
      /^5\.5\.4 Syntax error in MTRK parameter: .*19 octets/,
    ],
    [`ENVID=1@h.test MTRK=${B}:12x`, 501, /^5\.5\.4 Syntax error in MTRK parameter: .*timeout/],
    [`ENVID=1@h.test MTRK=${B}:1234567890`, 501, /^5\.5\.4 Syntax error in MTRK parameter: .*timeout/],
    [`MTRK=${B}`, 501, /^5\.5\.4 MTRK requires ENVID$/],
    [`ENVID=no-at-sign MTRK=${B}`, 501, /^5\.5\.4 MTRK requires ENVID in the form local@fqhn/],
    ['FOO=bar', 555, /^5\.5\.4 Unsupported MAIL FROM parameter FOO/],
    ['NOTIFY=NEVER', 555, /^5\.5\.4 Unsupported MAIL FROM parameter NOTIFY/],
  ]
  for (const [params, code, message] of cases) {
    test(params.slice(0, 60), async () => {
      const client = await session()
      const r = await client.cmd(`MAIL FROM:<a@client.test> ${params}`)
      assert.equal(r.code, code, r.text)
      assert.match(r.text, message)
      // The session goes on: the same client can start a valid transaction.
      assert.equal((await client.cmd('MAIL FROM:<a@client.test>')).code, 250)
      client.close()
    })
  }
})

describe('RCPT TO rejections (DSN-4)', () => {
  const cases: Array<[string, number, RegExp]> = [
    ['NOTIFY=SOMETIMES', 501, /^5\.5\.4 Syntax error in NOTIFY parameter/],
    ['NOTIFY=NEVER,SUCCESS', 501, /^5\.5\.4 Syntax error in NOTIFY parameter/],
    ['NOTIFY=DELAY NOTIFY=DELAY', 501, /^5\.5\.4 Duplicate NOTIFY parameter/],
    ['ORCPT=u@local.test', 501, /^5\.5\.4 Syntax error in ORCPT parameter/],
    ['ORCPT=rfc822;u@local.test ORCPT=rfc822;u@local.test', 501, /^5\.5\.4 Duplicate ORCPT parameter/],
    ['ENVID=1@h.test', 555, /^5\.5\.4 Unsupported RCPT TO parameter ENVID/],
    ['XYZZY', 555, /^5\.5\.4 Unsupported RCPT TO parameter XYZZY/],
  ]
  for (const [params, code, message] of cases) {
    test(params.slice(0, 60), async () => {
      const client = await session()
      assert.equal((await client.cmd('MAIL FROM:<a@client.test>')).code, 250)
      const r = await client.cmd(`RCPT TO:<u@local.test> ${params}`)
      assert.equal(r.code, code, r.text)
      assert.match(r.text, message)
      assert.equal((await client.cmd('RCPT TO:<u@local.test>')).code, 250, 'the transaction goes on')
      client.close()
    })
  }
})

test('DSN-2, DSN-4: valid parameters never change the reply a command would otherwise get', async () => {
  const client = await session()
  const pairs: Array<[string, string]> = [
    ['MAIL FROM:<a@client.test>', `MAIL FROM:<a@client.test> ENVID=1@h.test RET=HDRS MTRK=${B}:3600`],
    ['RCPT TO:<u@local.test>', 'RCPT TO:<u@local.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;u@local.test'],
    [
      'RCPT TO:<u@elsewhere.example>',
      'RCPT TO:<u@elsewhere.example> NOTIFY=NEVER ORCPT=rfc822;u@elsewhere.example',
    ],
  ]
  for (const [plain, withParams] of pairs) {
    if (plain.startsWith('MAIL')) await client.cmd('RSET')
    const a = await client.cmd(plain)
    if (plain.startsWith('MAIL')) await client.cmd('RSET')
    const b = await client.cmd(withParams)
    assert.equal(b.code, a.code, `${withParams}: ${b.text} vs ${a.text}`)
  }
  client.close()
})

test('other extensions parameters on the allow-list pass (SIZE, BODY, SMTPUTF8)', async () => {
  const client = await session()
  const r = await client.cmd('MAIL FROM:<a@client.test> SIZE=100 BODY=8BITMIME SMTPUTF8 ENVID=1@h.test')
  assert.equal(r.code, 250, r.text)
  client.close()
})

test('AMB-2: a padded MTRK certifier is accepted, although "=" is not legal in an esmtp-value', async () => {
  const client = await session()
  const r = await client.cmd(`MAIL FROM:<a@client.test> ENVID=pad@h.test MTRK=${B}=:86400`)
  assert.equal(r.code, 250, r.text)
  client.close()
})

test('MTRK-4, DSN-9: a 1100-character MAIL line and a 1036-character RCPT line are accepted', async () => {
  const client = await session()
  const envid = `${'e'.repeat(88)}@h.example`
  let mail = `MAIL FROM:<a@client.test> ENVID=${envid} RET=HDRS MTRK=${B}:999999999 SIZE=1000 BODY=8BITMIME`
  mail += ` AUTH=<${'x'.repeat(1100 - mail.length - 8)}>`
  assert.ok(mail.length >= 1100, String(mail.length))
  assert.equal((await client.cmd(mail)).code, 250)
  const orcpt = `rfc822;${'o'.repeat(480)}@local.test`
  let rcpt = `RCPT TO:<${'r'.repeat(64)}@local.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=${orcpt}`
  rcpt += ` XTEXT=${'z'.repeat(1036 - rcpt.length - 7)}`
  assert.ok(rcpt.length >= 1036, String(rcpt.length))
  const r = await client.cmd(rcpt)
  assert.equal(r.code, 555, `only the unknown XTEXT is refused, not the length: ${r.text}`)
  client.close()
})
