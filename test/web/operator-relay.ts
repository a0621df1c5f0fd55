// A real relay with the operator page on, shared by the operator page's tests: Haraka with the plugin, [web]
// operator with the scrypt hash of a password, and the recipients' domain routed to an aiosmtpd next hop.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { hashPassword } from '../../src/web/auth'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import type { Peer } from '../helpers/peer'
import { freePort } from '../helpers/ports'
import { SmtpClient } from '../helpers/smtp'

/** The recipients' domain, routed to the next hop `b` of the peer. */
export const DOMAIN = 'b.relay.test'

export const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** `files`: more of Haraka's config files; `outbound.ini` lines are added to local_mx_ok=true. */
export async function startOperatorRelay(o: {
  redisPort: number
  peer: Peer
  password: string
  files?: Record<string, string>
  outbound?: string
}): Promise<{ h: HarakaInstance; base: string }> {
  const port = await freePort()
  const h = await startHaraka({
    redisPort: o.redisPort,
    me: 'mx.a.test',
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    files: {
      ...o.files,
      'http.ini': `listen=127.0.0.1:${port}\n`,
      'test_mx.json': JSON.stringify({ [DOMAIN]: { port: o.peer.ports.b, name: 'mx.b.test' } }),
      'outbound.ini': `${o.outbound ?? ''}local_mx_ok=true\n`,
    },
    mtrk: {
      web: {
        enabled: true,
        operator: true,
        operator_password_hash: await hashPassword(o.password, randomBytes(16)),
      },
    },
  })
  await h.waitForLog(/operator page at \/mtrk\/operator\//)
  return { h, base: `http://127.0.0.1:${port}/mtrk/operator/` }
}

/** One message over SMTP, every reply checked. */
export async function sendMessage(
  h: HarakaInstance,
  from: string,
  to: string,
  messageId: string,
): Promise<void> {
  const { client } = await SmtpClient.connect(h.smtpPort)
  try {
    assert.equal((await client.cmd('EHLO client.sender.example')).code, 250)
    assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250)
    assert.equal((await client.cmd(`RCPT TO:<${to}>`)).code, 250)
    assert.equal((await client.data(`Message-ID: <${messageId}>\nSubject: trace\n\nhello\n`)).code, 250)
  } finally {
    client.close()
  }
}
