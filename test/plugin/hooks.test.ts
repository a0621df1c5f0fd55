// Hook-level behaviour with haraka-test-fixtures: no SMTP socket, no Redis (it points at a closed port).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import * as constants from 'haraka-constants'
import { callHook, callMail, callQueueOk, callRcpt, makeConnection } from 'haraka-test-fixtures'
import { fixturePlugin } from '../helpers/fixtures'

const plugin = () => fixturePlugin()

test('register wires only our hooks, all early (priority -50) so an accepting plugin cannot skip them', () => {
  const p = plugin()
  assert.deepEqual(Object.keys(p.hooks).sort(), [
    'bounce',
    'capabilities',
    'data_post',
    'deferred',
    'delivered',
    'init_child',
    'init_master',
    'mail',
    'queue_ok',
    'rcpt',
    'rcpt_ok',
    'reset_transaction',
    'send_email',
  ])
  // One hook per event on the SMTP path: the reports' data_post and queue_ok work runs inside the tracking hooks.
  const hooks = p.hooks as Record<string, string[]>
  assert.deepEqual([hooks.data_post, hooks.queue_ok], [['stamp_arrival'], ['record_acceptance']])
})

test('MTRK-1, AMB-21: capabilities get MTRK and DSN once, even when another plugin already added DSN', async () => {
  const p = plugin()
  const c = makeConnection({ helo: 'client.test', silent: true })
  c.capabilities = ['PIPELINING', 'DSN']
  const r = await callHook(p, 'advertise_mtrk', c)
  assert.equal(r.rc, undefined)
  assert.deepEqual(c.capabilities, ['PIPELINING', 'DSN', 'MTRK'])
})

test('without the raw command line, the parameters Haraka parsed are checked (duplicates then go unseen)', async () => {
  const p = plugin()
  const c = makeConnection({ withTxn: true, silent: true })
  c.current_line = null
  const r = await callMail(p, c, 'a@client.test', { MTRK: 'VheLhqV/rCKJmplkGFwsyW59pYk' })
  assert.equal(r.rc, constants.deny)
  const reply = r.msg as { code: number; reply: string }
  assert.equal(reply.code, 501)
  assert.equal(reply.reply, '5.5.4 MTRK requires ENVID')
})

test('a tracked message is recorded after next(): with Redis unreachable the queue hook still continues', async () => {
  const p = plugin()
  const c = makeConnection({ withTxn: true, helo: 'client.test', silent: true })
  // The raw line and Haraka's parse of it, as core hands both to the hooks.
  c.current_line = 'MAIL FROM:<a@client.test> ENVID=1@h.test MTRK=VheLhqV/rCKJmplkGFwsyW59pYk'
  const mail = { ENVID: '1@h.test', MTRK: 'VheLhqV/rCKJmplkGFwsyW59pYk' }
  assert.equal((await callMail(p, c, 'a@client.test', mail)).rc, undefined)
  c.current_line = 'RCPT TO:<u@local.test> NOTIFY=NEVER'
  assert.equal((await callRcpt(p, c, 'u@local.test', { NOTIFY: 'NEVER' })).rc, undefined)
  await callHook(p, 'note_redirection', c) // rcpt_ok: the recipient was accepted
  const note = c.transaction.notes.mtrk as {
    track: { envid: string; certifier: string }
    rcpts: Record<string, unknown>
  }
  assert.equal(note.track.envid, '1@h.test')
  assert.deepEqual(note.rcpts['u@local.test'], { orcpt: null, notify: 'NEVER' })
  const r = await callQueueOk(p, c, 'queued')
  assert.equal(r.rc, undefined, 'CONT: the client gets its 250 whatever Redis does')
})

test('after shutdown a hook does not reconnect to Redis (deliveries may still finish)', async () => {
  const p = plugin()
  const c = makeConnection({ withTxn: true, helo: 'client.test', silent: true })
  c.current_line = 'MAIL FROM:<a@client.test> ENVID=2@h.test MTRK=VheLhqV/rCKJmplkGFwsyW59pYk'
  await callMail(p, c, 'a@client.test', { ENVID: '2@h.test', MTRK: 'VheLhqV/rCKJmplkGFwsyW59pYk' })
  await callQueueOk(p, c, 'queued')
  const store = (p.mtrk as { store: unknown }).store
  assert.ok(store)
  await p.shutdown()
  await callQueueOk(p, c, 'queued')
  assert.equal((p.mtrk as { store: unknown }).store, store, 'the same, closed, store')
})

test('AMB-21, issue 9: with [dsn] enabled=false the relay promises neither DSN nor MTRK', async () => {
  const p = plugin() as ReturnType<typeof plugin> & { mtrk?: { config: { dsn: { enabled: boolean } } } }
  assert.ok(p.mtrk)
  p.mtrk.config.dsn.enabled = false
  const c = makeConnection({ helo: 'client.test', silent: true })
  c.capabilities = ['PIPELINING']
  await callHook(p, 'advertise_mtrk', c)
  assert.deepEqual(c.capabilities, ['PIPELINING'])
})
