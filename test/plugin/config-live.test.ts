// config/mtrk.ini as an administrator meets it: bad values named in the log, changes picked up without a restart.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { pySendmail, SmtpClient } from '../helpers/smtp'
import { openStore } from '../helpers/store'

let haraka: HarakaInstance
let redisPort: number

before(async () => {
  redisPort = await sharedRedisPort()
  haraka = await startHaraka({
    redisPort,
    mtrk: { main: { default_retention: 'ten days', mtrk_without_envid: 'ignore' } },
  })
})
after(() => haraka.stop())

test('an invalid value is logged with its section and key, and its default applies', async () => {
  await haraka.waitForLog(
    /config\/mtrk\.ini \[main\] default_retention: must be an integer .*got "ten days"; using 864000/,
  )
})

test('AMB-9 "ignore": MTRK without ENVID is accepted and the message is neither stored nor refused', async () => {
  const sent = await pySendmail({
    port: haraka.smtpPort,
    from: 's@sender.example',
    to: ['u@local.test'],
    mail: ['MTRK=VheLhqV/rCKJmplkGFwsyW59pYk', 'RET=FULL'],
  })
  assert.deepEqual(sent, { ok: true, refused: {} })
  await haraka.waitForLog(/MTRK ignored: MTRK requires ENVID/)
  const store = await openStore(redisPort, haraka.prefix)
  assert.deepEqual(await store.lookup('MTRK'), [])
  await store.close()
})

test('a change to config/mtrk.ini applies without restarting Haraka', async () => {
  const attempt = async () => {
    const { client } = await SmtpClient.connect(haraka.smtpPort)
    await client.cmd('EHLO client.test')
    const r = await client.cmd('MAIL FROM:<s@sender.example> XFORWARD=1')
    client.close()
    return r.code
  }
  assert.equal(await attempt(), 555)
  const ini = [
    '[main]',
    'reject_unknown_params=false',
    '[redis]',
    'host=127.0.0.1',
    `port=${redisPort}`,
    `prefix=${haraka.prefix}`,
    '[mtqp]',
    `listen=127.0.0.1:${haraka.mtqpPort}`,
    '',
  ].join('\n')
  writeFileSync(join(haraka.dir, 'config', 'mtrk.ini'), ini)
  await waitFor(async () => (await attempt()) === 250, 15000, 'reloaded config')
})
