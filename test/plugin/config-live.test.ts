// config/mtrk.ini as an administrator meets it: bad values named in the log, changes picked up without a restart.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { type HarakaInstance, ini, startHaraka } from '../helpers/haraka'
import { MtqpTestClient, waitForMtqpReady } from '../helpers/mtqp'
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

/** The TCP ports process `pid` listens on: its socket inodes matched against the LISTEN rows of /proc/<pid>/net. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? []
      } catch {
        return [] // closed meanwhile
      }
    }),
  )
  return ['tcp', 'tcp6']
    .flatMap((f) => readFileSync(`/proc/${pid}/net/${f}`, 'utf8').split('\n').slice(1))
    .map((row) => row.trim().split(/\s+/))
    .filter((c) => c[3] === '0A' && inodes.has(c[9] ?? ''))
    .map((c) => Number.parseInt(c[1]?.split(':')[1] ?? '', 16))
    .sort((a, b) => a - b)
}

test('typos are logged by section and key; unreadable values keep safe defaults; a bad listen starts nothing', async () => {
  const typos = await startHaraka({
    redisPort,
    mtrk: {
      main: { reject_unknown_params: 'tru' },
      mtqp: { enabled: 'maybe', listen: '127.0.0.1', listn: '127.0.0.1:11038' },
      mtpq: { enabled: 'true' },
      web: { operator_password_hash: 'plain' },
    },
  })
  try {
    for (const line of [
      '[main] reject_unknown_params: must be true or false, got "tru"; using true',
      '[mtqp] enabled: must be true or false, got "maybe"; using true',
      '[mtqp] listen: must be host:port or [v6]:port, got "127.0.0.1"; the MTQP listener stays off',
      '[mtqp] listn: unknown option, ignored (did you mean listen?)',
      '[mtpq]: unknown section, ignored (did you mean [mtqp]?)',
      '[web] operator_password_hash: must be scrypt$<salt base64>$<hash base64> (a salt of at least 8 octets, a hash of at least 16), got "plain"; the operator page refuses everyone until it is fixed',
    ]) {
      await typos.waitForLog(new RegExp(`config/mtrk\\.ini ${line.replace(/[[\]().?$]/g, '\\$&')}`))
    }
    // "tru" was not taken for false: unknown parameters are still refused.
    const { client } = await SmtpClient.connect(typos.smtpPort)
    await client.cmd('EHLO client.test')
    assert.equal((await client.cmd('MAIL FROM:<s@sender.example> XFORWARD=1')).code, 555)
    client.close()
    // Haraka (one process, nodes=0) listens for SMTP and nowhere else: no MTQP on [::]:1038 or any other port.
    assert.deepEqual(listeningPorts(typos.pid() as number), [typos.smtpPort])
    assert.doesNotMatch(typos.logs(), /MTQP listening/)
  } finally {
    await typos.stop()
  }
})

test('a listen address this host does not have: the listener says so and listens nowhere else', async () => {
  const elsewhere = await startHaraka({ redisPort, mtrk: { mtqp: { listen: '192.0.2.1:1038' } } })
  try {
    await elsewhere.waitForLog(/MTQP listener could not start on 192\.0\.2\.1:1038: .*EADDRNOTAVAIL/)
    assert.deepEqual(listeningPorts(elsewhere.pid() as number), [elsewhere.smtpPort])
  } finally {
    await elsewhere.stop()
  }
})

test('a reload that fixes [mtqp] listen, or turns [mtqp] on, starts the listener, in the cluster master only, once', async () => {
  const cluster = await startHaraka({ redisPort, nodes: 1, mtrk: { mtqp: { listen: '127.0.0.1' } } })
  const reload = (mtqp: Record<string, string>) =>
    writeFileSync(
      join(cluster.dir, 'config', 'mtrk.ini'),
      ini({ redis: { host: '127.0.0.1', port: redisPort, prefix: cluster.prefix }, mtqp }),
    )
  const count = (re: RegExp) => cluster.logs().match(new RegExp(re.source, 'g'))?.length ?? 0
  const valid = `127.0.0.1:${cluster.mtqpPort}`
  /** Waits for the n-th start (or stop) of the listener, and checks it is up (or down). */
  const started = async (n: number) => {
    await waitFor(() => count(/MTQP listening on 127\.0\.0\.1:/) === n, 15000, `start ${n} of the listener`)
    await waitForMtqpReady(cluster.mtqpPort)
  }
  const stopped = async (n: number) => {
    await waitFor(() => count(/MTQP listener stopped/) === n, 15000, `stop ${n} of the listener`)
    await assert.rejects(MtqpTestClient.connect(cluster.mtqpPort), /ECONNREFUSED/)
  }
  try {
    await cluster.waitForLog(/\[mtqp\] listen: must be host:port .*the MTQP listener stays off/)
    assert.equal(count(/MTQP listening/), 0)
    reload({ listen: valid })
    await started(1)
    // Broken again, then fixed again; turned off, then on again.
    reload({ listen: '127.0.0.1' })
    await stopped(1)
    reload({ listen: valid })
    await started(2)
    reload({ listen: valid, enabled: 'false' })
    await stopped(2)
    reload({ listen: valid, enabled: 'true' })
    await started(3)
    // The master listens; the worker (every other Haraka process) does not: one start per change, not two.
    assert.ok(listeningPorts(cluster.pid() as number).includes(cluster.mtqpPort))
    assert.equal(count(/MTQP listening/), 3)
  } finally {
    await cluster.stop()
  }
})
