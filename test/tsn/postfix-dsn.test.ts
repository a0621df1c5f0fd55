// The delivery-status reader against the reference MTA: Postfix relays a message to a next hop (aiosmtpd) that
// refuses the recipient with 550 5.1.1, delivers its own DSN into a maildir, and readDeliveryReport reads it: RFC 3464 fields typed, the
// ENVID and ORCPT of the original, Postfix's X- fields kept as extensions, nothing skipped.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { readDeliveryReport } from '../../src/tsn/reader'
import { type Peer, startPeer } from '../helpers/peer'
import { waitFor } from '../helpers/ports'
import { type PostfixInstance, postfixAvailable, startPostfix } from '../helpers/postfix'
import { SmtpClient } from '../helpers/smtp'

describe('a Postfix DSN read by readDeliveryReport', {
  skip: !postfixAvailable() && 'postfix not installed',
}, () => {
  let postfix: PostfixInstance
  let peer: Peer
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-dsn-'))
  const maildir = join(dir, 'mail')

  before(async () => {
    const uid = Number(execFileSync('id', ['-u', 'postfix']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postfix']).toString().trim())
    execFileSync('chmod', ['755', dir])
    mkdirSync(maildir)
    chownSync(maildir, uid, gid)
    writeFileSync(join(dir, 'mailboxes'), 's@sender.test s/\n')
    peer = await startPeer([{ name: 'next', ehlo: ['DSN', 'ENHANCEDSTATUSCODES'] }])
    postfix = await startPostfix({
      transport: { 'nowhere.test': `smtp:[127.0.0.1]:${peer.ports.next}` },
      main: {
        virtual_mailbox_domains: 'sender.test',
        virtual_mailbox_base: maildir,
        virtual_mailbox_maps: `texthash:${join(dir, 'mailboxes')}`,
        virtual_uid_maps: `static:${uid}`,
        virtual_gid_maps: `static:${gid}`,
      },
    })
  })
  after(async () => {
    await Promise.all([postfix?.stop(), peer?.stop()])
    rmSync(dir, { recursive: true, force: true })
  })

  test('failed recipient: Reporting-MTA, Arrival-Date, Original-Envelope-Id, ORCPT, Action, Status, Diagnostic', async () => {
    const { client } = await SmtpClient.connect(postfix.smtpPort)
    for (const [line, code] of [
      ['EHLO client.test', 250],
      ['MAIL FROM:<s@sender.test> ENVID=env+2B1@sender.test RET=HDRS', 250],
      ['RCPT TO:<reject-x@nowhere.test> NOTIFY=FAILURE ORCPT=rfc822;Orig+2Breject-x@nowhere.test', 250],
    ] as const)
      assert.equal((await client.cmd(line)).code, code, line)
    assert.equal((await client.data('Subject: to be bounced\r\n\r\nhello\r\n')).code, 250)
    client.close()

    const newDir = join(maildir, 's', 'new')
    const file = await waitFor(
      () => {
        try {
          return readdirSync(newDir)[0]
        } catch {
          return undefined
        }
      },
      30000,
      `the DSN in ${newDir}\n${postfix.logs()}`,
    )
    const { value, skipped } = readDeliveryReport(readFileSync(join(newDir, file), 'utf8'))
    assert.deepEqual(skipped, [])
    assert.equal(value.length, 1)
    const report = value[0]!
    assert.deepEqual(report.reportingMta, { type: 'dns', value: 'postfix.test' })
    assert.equal(report.originalEnvelopeId, 'env+1@sender.test', 'RFC 3461 §6.3(a): decoded')
    assert.ok(report.arrivalDate instanceof Date && !Number.isNaN(report.arrivalDate.getTime()))
    assert.ok(report.extensions?.some((e) => e.name === 'X-Postfix-Queue-ID'))
    const [r] = report.recipients
    assert.deepEqual(r?.finalRecipient, { type: 'rfc822', value: 'reject-x@nowhere.test' })
    assert.deepEqual(r?.originalRecipient, { type: 'rfc822', value: 'Orig+reject-x@nowhere.test' })
    assert.equal(r?.action, 'failed')
    assert.equal(r?.status, '5.1.1')
    assert.deepEqual(r?.remoteMta, { type: 'dns', value: '127.0.0.1' })
    assert.equal(r?.diagnosticCode?.type, 'smtp')
    assert.match(r?.diagnosticCode?.value ?? '', /^550 5\.1\.1 /)
  })
})
