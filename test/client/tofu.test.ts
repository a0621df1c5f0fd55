// The trust-on-first-use memory (MTQPC-4, RFC 3887 §11) and its file.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { defaultTofuPath, describeTofuAlarm, TofuFile, TofuMemory } from '../../src/client/tofu'

const dir = mkdtempSync(join(tmpdir(), 'mtqp-tofu-'))
after(() => rmSync(dir, { recursive: true, force: true }))

test('MTQPC-4: first contact is learned silently; a missing STARTTLS alarms every time, a new certificate once', () => {
  let now = Date.UTC(2026, 0, 1)
  const m = new TofuMemory({}, () => now)
  assert.equal(m.greeting('MTQP.B.test:1038', true), null)
  assert.equal(m.certificate('mtqp.b.test:1038', 'AA:01'), null)
  now += 1000
  assert.equal(m.greeting('mtqp.b.test:1038', true), null)
  assert.equal(m.certificate('mtqp.b.test:1038', 'AA:01'), null)
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(m.greeting('mtqp.b.test:1038', false), {
      kind: 'starttls-missing',
      server: 'mtqp.b.test:1038',
      since: '2026-01-01T00:00:00.000Z',
    })
  }
  assert.deepEqual(m.certificate('mtqp.b.test:1038', 'BB:02'), {
    kind: 'certificate-changed',
    server: 'mtqp.b.test:1038',
    previous: 'AA:01',
    current: 'BB:02',
  })
  assert.equal(m.certificate('mtqp.b.test:1038', 'BB:02'), null, 'the renewed certificate is learned')
  assert.equal(m.greeting('plain.test:1038', false), null, 'a server that never offered STARTTLS is no alarm')
})

test('RFC 3887 §11: the alarm texts are loud and say what it may mean', () => {
  assert.match(
    describeTofuAlarm({ kind: 'starttls-missing', server: 's:1', since: 'then' }),
    /^WARNING: s:1 offered STARTTLS before .*removing it to read the secret.*--starttls required/,
  )
  assert.match(
    describeTofuAlarm({ kind: 'certificate-changed', server: 's:1', previous: 'A', current: 'B' }),
    /^WARNING: the TLS certificate of s:1 has changed \(was SHA-256 A, now B\).*impersonating/,
  )
})

test('the file: created private under its directory, read back, and left alone when it is not ours', async () => {
  const path = join(dir, 'sub', 'known-servers.json')
  const f = await TofuFile.open(path)
  assert.equal(f.problem, null)
  f.memory.greeting('mtqp.b.test:1038', true)
  f.memory.certificate('mtqp.b.test:1038', 'AA:01')
  await f.save()
  assert.equal(statSync(path).mode & 0o777, 0o600)
  const again = await TofuFile.open(path)
  assert.equal(again.memory.get('mtqp.b.test:1038')?.fingerprint, 'AA:01')
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).version, 1)

  const foreign = join(dir, 'foreign.json')
  writeFileSync(foreign, '{"something": "else"}')
  const g = await TofuFile.open(foreign)
  assert.match(g.problem ?? '', /is not a known-servers file; leaving it untouched/)
  g.memory.greeting('x:1', true)
  await g.save()
  assert.equal(readFileSync(foreign, 'utf8'), '{"something": "else"}')
})

test('the default place: $XDG_CONFIG_HOME/mtqp, else ~/.config/mtqp', () => {
  assert.equal(defaultTofuPath({ XDG_CONFIG_HOME: '/x/conf' }, '/home/u'), '/x/conf/mtqp/known-servers.json')
  assert.equal(defaultTofuPath({}, '/home/u'), '/home/u/.config/mtqp/known-servers.json')
  assert.equal(defaultTofuPath({ XDG_CONFIG_HOME: '' }, '/home/u'), '/home/u/.config/mtqp/known-servers.json')
})
