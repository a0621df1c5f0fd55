// Issue 10, "mail first, for real": the acceptance rule (src/esmtp/acceptance.ts) against real servers. Every line of
// the corpus (test/esmtp/lines.ts) plus generated ones goes to Haraka with the plugin, the same Haraka without it, and
// Postfix as the reference MTA; the replies are compared. The only differences allowed are the rule's refusals, and
// each of those Postfix refuses too. Then what was accepted is tracked: SMTPUTF8 recipients and UTF-8 ORCPTs appear
// in the TRACK answer in RFC 6533's 7-bit form, and our client reads them back.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { decodeAddress, trackMessage } from '../../src/client/index'
import { REFUSALS } from '../../src/esmtp/acceptance'
import { acceptedLine, CORPUS, type CorpusLine } from '../esmtp/lines'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { type PostfixInstance, postfixAvailable, startPostfix } from '../helpers/postfix'
import { sharedRedisPort } from '../helpers/redis'
import { type Reply, SmtpClient } from '../helpers/smtp'

/** Every recipient is taken (test_rcpt_all), so replies differ only by what the plugin makes of the line. */
const PLUGINS = ['test_rcpt_all', 'mtrk', 'test_queue']
const BASE_MAIL = 'MAIL FROM:<s@example.org> SMTPUTF8'

/** The reply to one line, in a fresh session: EHLO, for a RCPT line a MAIL first, then the line. */
async function replyTo(port: number, line: string): Promise<Reply> {
  const { client } = await SmtpClient.connect(port)
  try {
    assert.equal((await client.cmd('EHLO client.test')).code, 250)
    if (/^rcpt/i.test(line)) {
      const mail = await client.cmd(BASE_MAIL)
      assert.equal(mail.code, 250, `${BASE_MAIL}: ${mail.text}`)
    }
    return await client.cmd(line)
  } finally {
    client.close()
  }
}

/**
 * Postfix does not know MTRK and refuses any: it is left out of the lines the plugin accepts, so that Postfix judges
 * the rest; a line the rule refuses goes as it is (for a bad or repeated MTRK, Postfix's 555 is the refusal).
 */
function forPostfix({ line, expect }: CorpusLine): string {
  return expect in REFUSALS ? line : line.replace(/\sMTRK=\S*/gi, '')
}

const show = (r: Reply) => `${r.code} ${r.text.replace(/\n/g, ' / ')}`

describe('the acceptance rule against Haraka with and without the plugin, and Postfix', () => {
  let withPlugin: HarakaInstance
  let without: HarakaInstance
  let postfix: PostfixInstance | null = null

  before(async () => {
    const redisPort = await sharedRedisPort()
    ;[withPlugin, without, postfix] = await Promise.all([
      startHaraka({ redisPort, plugins: PLUGINS }),
      startHaraka({ redisPort, plugins: PLUGINS.filter((p) => p !== 'mtrk') }),
      postfixAvailable()
        ? startPostfix({
            // Many refusals in a row from one client: no slowing down, no disconnecting.
            main: { smtpd_error_sleep_time: 0, smtpd_soft_error_limit: 10000, smtpd_hard_error_limit: 10000 },
          })
        : null,
    ])
  })
  after(async () => {
    await Promise.all([withPlugin?.stop(), without?.stop(), postfix?.stop()])
  })

  // 30 generated lines the rule accepts, the same ones on every run.
  const generated: CorpusLine[] = fc
    .sample(acceptedLine, { seed: 10, numRuns: 30 })
    .map((line) => ({ line, expect: 'accept', source: 'generated' }))

  test(`${CORPUS.length} corpus lines and ${generated.length} generated ones: only the listed refusals differ`, async (t) => {
    const problems: string[] = []
    const counts = { same: 0, refused: 0, postfixRefusedToo: 0 }
    for (const entry of [...CORPUS, ...generated]) {
      const { line, expect } = entry
      const [plain, plugin, reference] = await Promise.all([
        replyTo(without.smtpPort, line),
        replyTo(withPlugin.smtpPort, line),
        postfix ? replyTo(postfix.smtpPort, forPostfix(entry)) : Promise.resolve(null),
      ])
      const where = `${line}\n    without: ${show(plain)}\n    with:    ${show(plugin)}${reference ? `\n    postfix: ${show(reference)}` : ''}`
      if (expect === 'amb2') {
        if (plain.code !== 501 || plugin.code !== 250) problems.push(`AMB-2 padding not accepted: ${where}`)
        continue
      }
      if (expect === 'accept' || expect === 'haraka') {
        // The plugin answers exactly as Haraka alone does, whatever that is.
        if (plugin.code !== plain.code || plugin.text !== plain.text)
          problems.push(`differs (${entry.source}): ${where}`)
        else counts.same++
        if (expect === 'accept' && plain.code !== 250)
          problems.push(`plain Haraka did not accept (${entry.source}): ${where}`)
        continue
      }
      // A listed refusal: Haraka alone accepts, the plugin refuses with the rule's code, and so does Postfix.
      counts.refused++
      if (plain.code !== 250)
        problems.push(`plain Haraka refused a line meant to test refusal ${expect}: ${where}`)
      if (plugin.code !== REFUSALS[expect].code || !plugin.text.startsWith('5.5.4 '))
        problems.push(`not refused as ${expect} (${REFUSALS[expect].code}): ${where}`)
      if (reference) {
        if (reference.code < 500) problems.push(`Postfix accepts what the rule refuses (${expect}): ${where}`)
        else counts.postfixRefusedToo++
      }
    }
    t.diagnostic(
      `${counts.same} lines answered as without the plugin, ${counts.refused} refused by the rule, ` +
        `${postfix ? `${counts.postfixRefusedToo} of them refused by Postfix too` : 'Postfix not installed'}`,
    )
    assert.deepEqual(problems, [])
  })

  test('wherever Haraka alone and Postfix both accept, the plugin accepts (issue 10)', async () => {
    if (!postfix) return
    const problems: string[] = []
    for (const entry of CORPUS) {
      const [plain, plugin, reference] = await Promise.all([
        replyTo(without.smtpPort, entry.line),
        replyTo(withPlugin.smtpPort, entry.line),
        replyTo(postfix.smtpPort, forPostfix(entry)),
      ])
      if (plain.code === 250 && reference.code === 250 && plugin.code !== 250)
        problems.push(`${entry.line}: with the plugin ${show(plugin)}`)
    }
    assert.deepEqual(problems, [])
  })

  test('issue 10 cases 1-3, 5: what was accepted is tracked; every recipient is in the answer, readable back', async () => {
    const secret = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')
    const envid = `${'0123456789abcdef'.repeat(6)}.u@mail.example.org` // 115 characters (case 5)
    const { client } = await SmtpClient.connect(withPlugin.smtpPort)
    const lines = [
      'EHLO client.test',
      `MAIL FROM:<s@example.org> ENVID=${envid} MTRK=VheLhqV/rCKJmplkGFwsyW59pYk SMTPUTF8`,
      'RCPT TO:<jörg@example.org> ORCPT=utf-8;jörg@example.org',
      'RCPT TO:<müller@example.org> ORCPT=utf-8;müller\\x{2B}tag@example.org',
      'RCPT TO:<you@example.org> ORCPT=rfc822;j+C3+B6rg@example.org',
      'RCPT TO:<ñandú@example.org>',
    ]
    for (const line of lines) assert.equal((await client.cmd(line)).code, 250, line)
    assert.equal((await client.data('Subject: utf-8\r\n\r\nhallo\r\n')).code, 250)
    client.close()

    const expected = [
      ['j\\x{F6}rg@example.org', 'j\\x{F6}rg@example.org', 'jörg@example.org'],
      ['m\\x{FC}ller\\x{2B}tag@example.org', 'm\\x{FC}ller@example.org', 'müller@example.org'],
      ['j\\x{F6}rg@example.org', 'you@example.org', 'you@example.org'],
      ['\\x{F1}and\\x{FA}@example.org', '\\x{F1}and\\x{FA}@example.org', 'ñandú@example.org'],
    ]
    const target = { kind: 'server', host: '127.0.0.1', port: withPlugin.mtqpPort } as const
    let groups: Array<[string, string, string]> = []
    for (let attempt = 0; attempt < 100 && groups.length < expected.length; attempt++) {
      const report = await trackMessage(target, { envid, secret }, { follow: false, starttls: 'off' })
      const hop = report.hops[0]?.outcome
      if (hop?.kind === 'answered') {
        assert.equal(hop.skipped, undefined, 'the answer reads without skipping anything')
        groups = hop.parts.flatMap((p) =>
          p.recipients.map(
            (r) =>
              [r.originalRecipient.value, r.finalRecipient.value, decodeAddress(r.finalRecipient)] as [
                string,
                string,
                string,
              ],
          ),
        )
      }
      if (groups.length < expected.length) await new Promise((r) => setTimeout(r, 100))
    }
    assert.deepEqual(groups.sort(), expected.sort())
    assert.doesNotMatch(withPlugin.logs(), /cannot be written/)
  })
})
