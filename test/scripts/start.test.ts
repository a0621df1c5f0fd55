// README's start command on a machine with no Redis: the dev relay starts a private redis-server, makes a TLS
// certificate, tracks mail, and stops everything on Ctrl-C. Runs scripts/start.ts on a copy of the instance
// directory with free ports, so it cannot collide with a relay already running here.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { pingRedis } from '../../scripts/lib/redis-server'
import { DHPARAMS, REPO } from '../helpers/haraka'
import { freePort, waitFor } from '../helpers/ports'
import { pySendmail } from '../helpers/smtp'
import { openStore, waitForMessages } from '../helpers/store'

test('npm start: private Redis, self-signed certificate, tracked mail, clean stop', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-start-'))
  for (const d of ['config', 'scripts', 'package.json'])
    cpSync(join(REPO, d), join(dir, d), { recursive: true })
  for (const d of ['node_modules', 'dist', 'src', 'plugins']) symlinkSync(join(REPO, d), join(dir, d))
  // As in a fresh clone: no certificate yet (a relay started in this checkout may have made one).
  for (const f of ['tls_key.pem', 'tls_cert.pem']) rmSync(join(dir, 'config', f), { force: true })
  // Haraka would otherwise spend a minute of CPU making DH parameters; that is Haraka's business, not ours.
  cpSync(DHPARAMS, join(dir, 'config', 'dhparams.pem'))
  const [smtp, mtqp, redis] = [await freePort(), await freePort(), await freePort()]
  writeFileSync(
    join(dir, 'config', 'smtp.ini'),
    `listen=127.0.0.1:${smtp}\nnodes=0\ngraceful_shutdown=true\n`,
  )
  writeFileSync(join(dir, 'config', 'mtrk.ini'), `[redis]\nport=${redis}\n[mtqp]\nlisten=127.0.0.1:${mtqp}\n`)
  writeFileSync(join(dir, 'config', 'me'), 'relay.start.test\n')
  assert.equal(await pingRedis('127.0.0.1', redis), false, 'no Redis there yet')

  const env = { ...process.env }
  delete env.MTRK_REDIS_URL
  const proc = spawn(process.execPath, ['--import', 'tsx', join(dir, 'scripts', 'start.ts')], {
    cwd: dir,
    env,
  })
  let out = ''
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  proc.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  try {
    await waitFor(() => /Listening on 127\.0\.0\.1:\d+/.test(out), 30000, `the relay to listen:\n${out}`)
    assert.match(out, new RegExp(`started a private redis-server on 127\\.0\\.0\\.1:${redis}`))
    assert.match(out, /created a self-signed TLS certificate for relay\.start\.test/)
    assert.ok(
      existsSync(join(dir, 'config', 'tls_key.pem')) && existsSync(join(dir, 'config', 'tls_cert.pem')),
    )
    assert.ok(existsSync(join(dir, 'var', 'redis')), 'Redis data under var/')

    const sent = await pySendmail({
      port: smtp,
      from: 'me@localhost',
      to: ['someone@example.invalid'],
      mail: ['ENVID=start@client.test', 'MTRK=VheLhqV/rCKJmplkGFwsyW59pYk'],
    })
    assert.ok(sent.ok, JSON.stringify(sent))
    const store = await openStore(redis, 'mtrk:')
    const [m] = await waitForMessages(store, 'start@client.test')
    assert.equal(m?.reportingMta, 'relay.start.test')
    await store.close()
  } finally {
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    proc.kill('SIGINT')
    assert.equal(await exited, 0, out.slice(-2000))
  }
  assert.match(out, /stopped the private redis-server/)
  assert.equal(await pingRedis('127.0.0.1', redis), false, 'the private Redis is gone')
})
