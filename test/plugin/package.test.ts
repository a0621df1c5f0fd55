// The user's path: `npm install haraka-plugin-mtrk` into a Haraka instance and `mtrk` in config/plugins.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO, startHaraka } from '../helpers/haraka'
import { sharedRedisPort } from '../helpers/redis'
import { pySendmail, SmtpClient } from '../helpers/smtp'
import { openStore, waitForMessages } from '../helpers/store'

test('the packed npm package installs, loads in Haraka with its shipped defaults, and tracks; mtqp and ./client work', async () => {
  const work = mkdtempSync(join(tmpdir(), 'mtrk-pack-'))
  execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))
  assert.ok(tarball)
  const listing = execFileSync('tar', ['tzf', join(work, tarball)]).toString()
  assert.match(listing, /package\/dist\/index\.js/)
  assert.match(listing, /package\/config\/mtrk\.ini/)
  assert.match(listing, /package\/bin\/mtqp\.js/)
  assert.match(listing, /package\/bin\/mtrk-trace\.js/)
  assert.match(listing, /package\/dist\/client\/index\.d\.ts/)
  assert.doesNotMatch(
    listing,
    /package\/config\/smtp\.ini|package\/test\/|package\/src\//,
    'only the plugin ships',
  )

  const install = join(work, 'site')
  execFileSync('mkdir', ['-p', install])
  execFileSync(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--omit=peer',
      '--prefix',
      install,
      join(work, tarball),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  // The client as users get it: the `mtqp` command on PATH and the typed library under haraka-plugin-mtrk/client.
  const made = execFileSync(join(install, 'node_modules', '.bin', 'mtqp'), [
    'new',
    '--fqhn',
    'a.example',
    '--json',
  ])
  assert.match(JSON.parse(made.toString()).mailParameters, /^ENVID=\S+@a\.example MTRK=\S{27}:864000$/)
  const api = execFileSync(
    process.execPath,
    [
      '-e',
      "const c = require('haraka-plugin-mtrk/client'); console.log(typeof c.trackMessage, typeof c.newTracking, typeof c.main)",
    ],
    { cwd: install },
  )
  assert.equal(api.toString(), 'function function undefined\n', 'the library, without the command')
  const trace = execFileSync(
    process.execPath,
    [
      '-e',
      "const t = require('haraka-plugin-mtrk/trace'); console.log(typeof t.openTrace, typeof t.readMtrkIni)",
    ],
    { cwd: install },
  )
  assert.equal(trace.toString(), 'function function\n', 'the trace library')
  const redisPort = await sharedRedisPort()
  const prefix = 'mtrk:' // the shipped default; MTRK_REDIS_URL points at the test Redis
  const haraka = await startHaraka({
    redisPort,
    pluginDir: join(install, 'node_modules', 'haraka-plugin-mtrk'),
    plugins: ['test_rcpt', 'haraka-plugin-mtrk', 'test_queue'],
    writeMtrkIni: false,
    env: { MTRK_REDIS_URL: `redis://127.0.0.1:${redisPort}/0` },
    prefix,
  })
  try {
    const { client } = await SmtpClient.connect(haraka.smtpPort)
    const ehlo = await client.cmd('EHLO client.test')
    assert.ok(ehlo.lines.includes('MTRK'))
    client.close()
    const envid = `pkg${Date.now()}@sender.example`
    const sent = await pySendmail({
      port: haraka.smtpPort,
      from: 's@sender.example',
      to: ['u@local.test'],
      mail: [`ENVID=${envid}`, 'MTRK=VheLhqV/rCKJmplkGFwsyW59pYk'],
    })
    assert.ok(sent.ok)
    const store = await openStore(redisPort, prefix)
    const [m] = await waitForMessages(store, envid)
    assert.equal(m?.retention, 864000, 'the shipped default retention')
    await store.close()
    // The operator trace as users get it: on by default, found by the installed `mtrk-trace` in the Haraka directory.
    const found = execFileSync(
      join(install, 'node_modules', '.bin', 'mtrk-trace'),
      ['-c', haraka.dir, '--envid', envid, '--json'],
      { env: { ...process.env, MTRK_REDIS_URL: `redis://127.0.0.1:${redisPort}/0` } },
    )
    assert.deepEqual(
      JSON.parse(found.toString()).messages.map((x: { envid: string }) => x.envid),
      [envid],
    )
  } finally {
    await haraka.stop()
  }
})
