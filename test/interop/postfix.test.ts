// The Postfix helper itself: a private instance accepts mail on its port, logs what it did, relays through the
// configured relayhost, and stops cleanly. The acceptance and DSN tests build on it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type Peer, startPeer } from '../helpers/peer'
import { type PostfixInstance, postfixAvailable, startPostfix } from '../helpers/postfix'
import { SmtpClient } from '../helpers/smtp'

async function send(port: number, rcpt: string, params = ''): Promise<number[]> {
  const { client } = await SmtpClient.connect(port)
  const codes = []
  for (const line of [
    'EHLO client.test',
    'MAIL FROM:<s@client.test> ENVID=e1',
    `RCPT TO:<${rcpt}>${params}`,
  ]) {
    codes.push((await client.cmd(line)).code)
  }
  codes.push((await client.data('Subject: postfix helper\r\n\r\nhello\r\n')).code)
  client.close()
  return codes
}

describe('test/helpers/postfix', { skip: !postfixAvailable() && 'postfix not installed' }, () => {
  let peer: Peer
  let relay: PostfixInstance
  let discard: PostfixInstance
  before(async () => {
    peer = await startPeer([{ name: 'dsn', ehlo: ['DSN', 'ENHANCEDSTATUSCODES'] }])
    ;[relay, discard] = await Promise.all([
      startPostfix({ relayhost: `[127.0.0.1]:${peer.ports.dsn}` }),
      startPostfix({ hostname: 'other.test' }),
    ])
  })
  after(async () => {
    await Promise.all([relay?.stop(), discard?.stop(), peer?.stop()])
  })

  test('two instances run side by side, each with its own configuration', async () => {
    assert.notEqual(relay.smtpPort, discard.smtpPort)
    assert.equal(await discard.postconf('myhostname'), 'other.test')
    assert.equal(await relay.postconf('relayhost'), `[127.0.0.1]:${peer.ports.dsn}`)
  })

  test('accepted mail is discarded by default, and the log says so', async () => {
    assert.deepEqual(await send(discard.smtpPort, 'x@example.org'), [250, 250, 250, 250])
    await discard.waitForLog(/postfix\/discard\[\d+\]: \w+: to=<x@example\.org>.*status=sent/)
  })

  test('the relayhost receives the mail with the DSN parameters Postfix forwards', async () => {
    assert.deepEqual(
      await send(relay.smtpPort, 'y@example.org', ' NOTIFY=SUCCESS ORCPT=rfc822;y+2Bo@example.org'),
      [250, 250, 250, 250],
    )
    const [session] = await peer.waitForSessions('dsn', /^RCPT TO:<y@example\.org>/)
    assert.ok(
      session!.some((l) => /^MAIL FROM:<s@client\.test>.*ENVID=e1/.test(l)),
      session!.join('\n'),
    )
    assert.ok(
      session!.some((l) => l.includes('ORCPT=rfc822;y+2Bo@example.org')),
      session!.join('\n'),
    )
    await relay.waitForLog(/to=<y@example\.org>, relay=127\.0\.0\.1.*status=sent/)
  })
})
