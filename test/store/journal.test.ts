// The outage journal on real files: paced replay in order, resumption after a failed batch, bounds and losses
// counted, torn lines, files left by processes that are gone, and a process that exits without closing anything.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, test } from 'node:test'
import type { RecordWrite } from '../../src/model/records'
import { type TraceWrite, traceWrite } from '../../src/model/trace'
import { type JournalOptions, OutageJournal } from '../../src/store/journal'
import { isTrace, type StoreWrite } from '../../src/store/write'
import { freePort, waitFor } from '../helpers/ports'
import { message } from './fixtures'

const root = mkdtempSync(join(tmpdir(), 'mtrk-journal-test-'))
let n = 0
after(() => rmSync(root, { recursive: true, force: true }))

function setup(opts: Partial<JournalOptions> = {}) {
  const logs: string[] = []
  const dir = join(root, String(n++))
  const journal = new OutageJournal({
    dir,
    maxBytes: 1024 * 1024,
    fsyncMs: 10,
    batch: 3,
    pauseMs: 0,
    log: { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`) },
    ...opts,
  })
  return { dir, journal, logs }
}

/** Another journal on `dir`, as a replacement store or another process has: replays at once, logs nothing. */
function otherJournal(dir: string) {
  return new OutageJournal({
    dir,
    maxBytes: 1e6,
    fsyncMs: 10,
    batch: 3,
    pauseMs: 0,
    log: { info() {}, warn() {} },
  })
}

const write = (i: number): RecordWrite => ({
  message: message({ txn: `T${i}`, envid: `e${i}@h.example` }),
  recipients: [],
  now: 1000 + i,
})

const trace = (i: number): TraceWrite =>
  traceWrite(
    {
      txn: `X${i}`,
      arrival: 1000 + i,
      from: 's@example.org',
      messageId: null,
      envid: null,
      tracked: false,
      clientIp: '192.0.2.1',
      helo: 'client.example',
      reportingMta: 'mx.example',
    },
    [],
    [`X${i}.1`],
    1000 + i,
  )

/** A sink that records what it is sent, and fails the batches whose numbers are in `failing`. */
function sink(failing: number[] = []) {
  const batches: string[][] = []
  return {
    batches,
    send: async (writes: StoreWrite[]) => {
      const no = batches.length
      batches.push(writes.map((w) => (isTrace(w) ? w.header.txn : w.message.txn)))
      if (failing.includes(no)) throw new Error('Redis down')
    },
  }
}

test('trace writes share the journal with tracking writes and come back whole', async () => {
  const { journal } = setup()
  journal.append(write(0))
  journal.append(trace(1))
  const got: StoreWrite[] = []
  assert.equal(
    await journal.replay(async (ws) => {
      got.push(...ws)
    }),
    true,
  )
  assert.deepEqual(got, [write(0), trace(1)])
})

test('appended writes are replayed in order, in batches, and the file is removed afterwards', async () => {
  const { dir, journal } = setup()
  for (let i = 0; i < 7; i++) journal.append(write(i))
  const s = sink()
  assert.equal(await journal.replay(s.send), true)
  assert.deepEqual(s.batches, [['T0', 'T1', 'T2'], ['T3', 'T4', 'T5'], ['T6']])
  assert.deepEqual(readdirSync(dir), [])
  assert.equal(journal.heldBytes, 0)
  assert.equal(journal.takeReplayed(), 7)
})

test('a failed batch stops the replay; the next one resumes at that batch, nothing sent before it again', async () => {
  const { journal } = setup()
  for (let i = 0; i < 7; i++) journal.append(write(i))
  const s = sink([1])
  assert.equal(await journal.replay(s.send), false)
  assert.deepEqual(s.batches, [
    ['T0', 'T1', 'T2'],
    ['T3', 'T4', 'T5'],
  ])
  journal.append(write(7)) // during the outage that follows: a new file, after the first
  const again = sink()
  assert.equal(await journal.replay(again.send), true)
  assert.deepEqual(again.batches, [['T3', 'T4', 'T5'], ['T6'], ['T7']])
})

test('the bound: writes beyond max bytes are lost, counted and logged once; room comes back after a replay', async () => {
  const size = Buffer.byteLength(`${JSON.stringify(write(0))}\n`)
  const { journal, logs } = setup({ maxBytes: size * 2 + 1 })
  for (let i = 0; i < 5; i++) journal.append(write(i))
  assert.equal(journal.takeLost(), 3)
  assert.equal(logs.filter((l) => /tracking writes lost: journal full/.test(l)).length, 1)
  const s = sink()
  await journal.replay(s.send)
  assert.deepEqual(s.batches, [['T0', 'T1']])
  journal.append(write(9))
  assert.equal(journal.takeLost(), 0)
})

test('a torn last line (a crash mid-append) and a garbage line are skipped and counted; the rest replays', async () => {
  const { dir, journal } = setup()
  mkdirSync(dir, { recursive: true })
  const dead = deadPid()
  const file = join(dir, `${dead}-1-0.jnl`)
  writeFileSync(file, `${JSON.stringify(write(1))}\nnot json\n${JSON.stringify(write(2))}\n{"message":`)
  const s = sink()
  assert.equal(await journal.replay(s.send), true)
  assert.deepEqual(s.batches.flat(), ['T1', 'T2'])
  assert.equal(journal.takeLost(), 2)
})

test('files of processes that are gone are claimed and replayed; a live process keeps its own', async () => {
  const { dir, journal, logs } = setup()
  mkdirSync(dir, { recursive: true })
  const dead = deadPid()
  appendFileSync(join(dir, `${dead}-5-0.jnl`), `${JSON.stringify(write(1))}\n`)
  appendFileSync(join(dir, `${dead}-7-0.jnl`), `${JSON.stringify(write(2))}\n`)
  const live = join(dir, `${process.ppid}-6-0.jnl`)
  appendFileSync(live, `${JSON.stringify(write(3))}\n`)
  const s = sink()
  assert.equal(await journal.replay(s.send), true)
  assert.deepEqual(s.batches.flat(), ['T1', 'T2'], 'oldest first; the live process file left alone')
  assert.deepEqual(readdirSync(dir), [`${process.ppid}-6-0.jnl`])
  assert.ok(logs.some((l) => l.endsWith(`left by process ${dead}, which is no longer running`)))
})

test('two journals racing for one orphan: exactly one replays it', async () => {
  const a = setup()
  const dead = deadPid()
  mkdirSync(a.dir, { recursive: true })
  for (let f = 0; f < 20; f++)
    appendFileSync(join(a.dir, `${dead}-${f}-0.jnl`), `${JSON.stringify(write(f))}\n`)
  const b = otherJournal(a.dir)
  const sa = sink()
  const sb = sink()
  await Promise.all([a.journal.replay(sa.send), b.replay(sb.send)])
  const all = [...sa.batches.flat(), ...sb.batches.flat()].sort()
  assert.deepEqual(all, Array.from({ length: 20 }, (_, i) => `T${i}`).sort())
})

test('after close, a late write goes straight to disk, into a file the next journal on the directory replays', async () => {
  const { dir, journal } = setup()
  journal.append(write(1))
  await journal.close()
  journal.appendSync([write(2)])
  assert.equal(readdirSync(dir).length, 2)
  const next = otherJournal(dir)
  const s = sink()
  assert.equal(await next.replay(s.send), true)
  assert.deepEqual(s.batches.flat(), ['T1', 'T2'])
  assert.deepEqual(readdirSync(dir), [])
})

test('close() stops a running replay after the batch it sent; the next journal on the directory replays the file alone', async () => {
  // A pause long enough that a replay not stopped would still be running when the next journal claims the file.
  const { dir, journal } = setup({ pauseMs: 2000 })
  for (let i = 0; i < 9; i++) journal.append(write(i))
  const first = sink()
  const replaying = journal.replay(first.send)
  await waitFor(() => first.batches.length === 1, 5000, 'the first batch sent')
  await journal.close()
  assert.equal(await replaying, false, 'stopped, not complete')
  const next = otherJournal(dir)
  const s = sink()
  assert.equal(await next.replay(s.send), true)
  // Progress is kept in memory only: the next journal starts the file over.
  assert.deepEqual(s.batches.flat(), ['T0', 'T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7', 'T8'])
  assert.deepEqual(first.batches, [['T0', 'T1', 'T2']], 'nothing sent by the closed journal after close()')
  assert.deepEqual(readdirSync(dir), [])
})

test('a process that exits at once (no close) leaves what its store held in the journal', async () => {
  const dir = join(root, 'exit')
  const redisPort = await freePort() // nothing listens: the store is down from the start
  const script = `
    const { TrackingStore } = require('./src/store/store')
    const { OutageJournal } = require('./src/store/journal')
    const { createRedisClient } = require('./src/store/redis')
    const { parseConfig } = require('./src/config/config')
    const { config } = parseConfig({ redis: { port: ${redisPort} } })
    const log = { info() {}, warn() {} }
    const journal = new OutageJournal({ dir: ${JSON.stringify(dir)}, maxBytes: 1e6, fsyncMs: 1000, batch: 10, pauseMs: 0, log })
    const store = new TrackingStore(createRedisClient(config.redis, 'exit-test'), { prefix: 'x:', historyLimit: 5, journal }, log)
    for (let i = 0; i < 3; i++) store.submit({ message: { txn: 'X' + i, envid: 'x@h.example' }, recipients: [], now: i })
    process.exit(0)
  `
  execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: resolve(__dirname, '..', '..') })
  const files = readdirSync(dir)
  assert.equal(files.length, 1)
  const txns = readFileSync(join(dir, files[0]!), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as RecordWrite).message.txn)
  // A write the process was appending when it exited is written again: twice replays harmlessly.
  assert.deepEqual([...new Set(txns)], ['X0', 'X1', 'X2'])
})

/** The pid of a process that has exited. */
function deadPid(): number {
  // execFileSync returns once the child has exited and been reaped.
  return Number(execFileSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }))
}
