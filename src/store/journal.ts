// The outage journal: tracking writes that could not reach Redis, kept on local disk until Redis takes them, so an
// outage of any length (and a restart during it) loses nothing up to a stated bound.
//
// Decisions:
// - One append-only file per process, `<pid>-<ms since the epoch>-<n>.jnl` in one directory, a JSON line per
//   write. Appends leave in one write() per event-loop tick; fdatasync follows within `fsyncMs`. So a crash of
//   Haraka (kill -9 included) loses nothing already appended, and a crash of the machine at most the last
//   `fsyncMs`. A torn last line is skipped (and counted) on replay.
// - Writes are idempotent upserts (src/store/scripts.ts), so a write replayed twice, or after newer ones, is
//   harmless: replay progress is kept in memory only, and a restart mid-replay starts that file over.
// - Replay is paced: `batch` writes at a time, the next batch only after the previous one was answered and
//   `pauseMs` has passed, read from the file in bounded chunks. Memory stays bounded whatever the file's size, and
//   live mail keeps its share of the event loop and of Redis. A failing batch stops the replay where it is; the
//   next one (Redis ready again) continues from there.
// - Files of processes that are gone (a restart, a crashed cluster worker) are claimed by renaming them to the
//   claiming process's name (atomic: two processes cannot both get one) and replayed like its own. A file whose
//   pid belongs to a live process is left alone; a file with this process's pid but not opened by this journal
//   object (a pid reused after a restart in a container, or a store replaced on reload) is taken over.
// - Bounded: appends beyond `maxBytes` of this process's unreplayed journal, or beyond MAX_QUEUED_BYTES waiting
//   for the disk, are lost, counted and logged with the count, never silently.
import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, write, writeSync } from 'node:fs'
import { type FileHandle, open, readdir, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { RecordWrite } from '../model/records'
import type { TraceWrite } from '../model/trace'
import type { StoreLog } from './store'
import type { StoreWrite } from './write'

export interface JournalOptions {
  /** Directory of the journal files; created when missing. */
  dir: string
  /** Bytes this process's journal may hold before further writes are lost. */
  maxBytes: number
  /** ms between an append and its fdatasync. */
  fsyncMs: number
  /** Writes per replay batch. */
  batch: number
  /** ms between replay batches. */
  pauseMs: number
  log: StoreLog
}

/** Bytes of appends waiting for the disk, beyond which appends are lost (a disk slower than the mail). */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024

/** Bytes read from a journal file at a time during replay; a longer line grows the read up to MAX_LINE. */
const READ_CHUNK = 256 * 1024
const MAX_LINE = 64 * 1024 * 1024

/** Files a journal of this process appends to or holds for replay: never claimed by another journal here. */
const heldHere = new Set<string>()

let sequence = 0

/** Sends a batch of writes to Redis; rejects when Redis cannot take them (the replay then stops). */
export type ReplaySink = (writes: StoreWrite[]) => Promise<void>

export class OutageJournal {
  readonly #o: JournalOptions
  #path: string | null = null
  #fd: number | null = null
  #queue: string[] = []
  #queuedBytes = 0
  /** Lines being written now: still written again by appendSync if the process exits meanwhile. */
  #writing: string[] = []
  #writingBytes = 0
  /** Bytes in this process's files not replayed yet. */
  #held = 0
  #drain: Promise<void> | null = null
  #fsyncTimer: NodeJS.Timeout | null = null
  /** The last fdatasync and the last write started, so the file is not closed under them. */
  #syncing: Promise<void> = Promise.resolve()
  #writeInFlight: Promise<void> = Promise.resolve()
  #lost = 0
  #replayed = 0
  #replaying: Promise<boolean> | null = null
  /** Set by close(): a running replay stops before its next batch, so a file is never replayed by two journals. */
  #stopping = false
  /** Ends the pause between replay batches early (close() would wait up to `pauseMs` otherwise). */
  #wake: (() => void) | null = null
  /** Replay progress of files this process owns: bytes already sent. */
  readonly #offsets = new Map<string, number>()
  /** Sizes of files this process appended to and has not replayed yet. */
  readonly #ownSizes = new Map<string, number>()
  #closed = false

  constructor(opts: JournalOptions) {
    this.#o = opts
  }

  /** Writes lost since the last call (journal full, disk failing, torn lines); resets the count. */
  takeLost(): number {
    const n = this.#lost
    this.#lost = 0
    return n
  }

  /** Writes replayed since the last call; resets the count. */
  takeReplayed(): number {
    const n = this.#replayed
    this.#replayed = 0
    return n
  }

  /** The directory of the journal files. */
  get dir(): string {
    return this.#o.dir
  }

  /** Bytes held for replay by this process. */
  get heldBytes(): number {
    return this.#held + this.#writingBytes + this.#queuedBytes
  }

  /** Keeps a write for replay. Never throws; a write beyond the bound is lost and counted. */
  append(write: StoreWrite): void {
    const line = `${JSON.stringify(write)}\n`
    const size = Buffer.byteLength(line)
    if (
      this.#closed ||
      this.heldBytes + size > this.#o.maxBytes ||
      this.#queuedBytes + size > MAX_QUEUED_BYTES
    ) {
      this.#lose(1, this.#closed ? 'journal closed' : 'journal full')
      return
    }
    this.#queue.push(line)
    this.#queuedBytes += size
    this.#drain ??= this.#write()
  }

  /**
   * Appends `writes` synchronously: for the last moments of the process ('exit' handlers cannot wait), and for
   * writes that come after close() (deliveries finishing during shutdown), each into a file closed at once.
   */
  appendSync(writes: readonly StoreWrite[]): void {
    // A write in progress is written again: a line twice replays harmlessly, a line missing is lost.
    const lines = [...this.#writing, ...this.#queue, ...writes.map((w) => `${JSON.stringify(w)}\n`)]
    this.#queue = []
    this.#queuedBytes = 0
    if (lines.length === 0) return
    try {
      const fd = this.#open()
      writeSync(fd, lines.join(''))
      fdatasyncSync(fd)
    } catch (e) {
      this.#lose(lines.length, `journal write failed: ${e instanceof Error ? e.message : e}`)
    }
    if (this.#closed && this.#fd !== null) {
      // Left for the next journal on the directory, like every file of a closed journal.
      closeSync(this.#fd)
      heldHere.delete(this.#path as string)
      this.#fd = null
      this.#path = null
    }
  }

  /**
   * Stops a running replay after the batch it is sending (so its `send` must not wait on this close), waits until
   * every append is on disk and synced, then closes the file; later appends are lost (counted). Its files stay for
   * the next journal on the directory (a replacement store, or the next start) to replay, from their start.
   */
  async close(): Promise<void> {
    this.#stopping = true
    this.#wake?.()
    // Its outcome (a read error included) is its caller's; here only its end counts.
    await this.#replaying?.catch(() => {})
    await this.#settled()
    this.#closed = true
    await this.#closeFile()
    for (const path of [...this.#ownSizes.keys(), ...this.#offsets.keys()]) heldHere.delete(path)
  }

  /**
   * Replays every file this process owns or can claim, oldest first, through `send`. Resolves true when everything
   * held was replayed, false when `send` failed or close() stopped it (what is left stays for the next replay).
   * One replay at a time: a call during a replay gets that replay's outcome, sent through that replay's `send`.
   */
  replay(send: ReplaySink): Promise<boolean> {
    this.#replaying ??= this.#replayAll(send).finally(() => {
      this.#replaying = null
    })
    return this.#replaying
  }

  async #replayAll(send: ReplaySink): Promise<boolean> {
    // New appends (a write failing during the replay) start a new file, replayed in the next round.
    for (;;) {
      await this.#settled()
      await this.#closeFile()
      if (this.#stopping) return false
      const files = await this.#claim()
      if (files.length === 0) return true
      for (const file of files) {
        if (!(await this.#replayFile(file, send))) return false
      }
    }
  }

  async #settled(): Promise<void> {
    while (this.#drain !== null) await this.#drain
    if (this.#fsyncTimer !== null) {
      clearTimeout(this.#fsyncTimer)
      this.#fsyncTimer = null
      await this.#sync()
    }
  }

  /** Files to replay: this process's closed ones and those of processes that are gone, renamed to this one's. */
  async #claim(): Promise<string[]> {
    let names: string[]
    try {
      names = (await readdir(this.#o.dir)).filter((n) => n.endsWith('.jnl')).sort(byAge)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.#o.log.warn(`journal ${this.#o.dir}: ${e}`)
      return []
    }
    const mine: string[] = []
    for (const name of names) {
      const path = join(this.#o.dir, name)
      if (this.#offsets.has(path) || this.#ownSizes.has(path)) {
        if (path !== this.#path) mine.push(path)
        continue
      }
      if (heldHere.has(path)) continue
      const pid = Number(name.split('-')[0])
      if (pid !== process.pid && alive(pid)) continue
      const claimed = join(this.#o.dir, newName())
      try {
        await rename(path, claimed)
      } catch {
        continue // another process claimed it first
      }
      const size = await stat(claimed).then(
        (s) => s.size,
        () => 0,
      )
      // This process's own file, written before (a store replaced on reload), or one a process that exited left.
      const from =
        pid === process.pid
          ? 'written earlier by this process'
          : `left by process ${pid}, which is no longer running`
      this.#o.log.info(`journal: replaying ${name} (${size} bytes), ${from}`)
      heldHere.add(claimed)
      this.#offsets.set(claimed, 0)
      mine.push(claimed)
    }
    return mine
  }

  /** Sends one file in paced batches; deletes it when done. False when `send` failed. */
  async #replayFile(path: string, send: ReplaySink): Promise<boolean> {
    let handle: FileHandle
    try {
      handle = await open(path, 'r')
    } catch (e) {
      this.#o.log.warn(`journal ${path}: cannot be read: ${e}`)
      this.#forget(path)
      return true
    }
    let offset = this.#offsets.get(path) ?? 0
    let chunk = READ_CHUNK
    try {
      for (;;) {
        if (this.#stopping) return false
        const buf = Buffer.alloc(chunk)
        const { bytesRead } = await handle.read(buf, 0, chunk, offset)
        if (bytesRead === 0) break
        const text = buf.subarray(0, bytesRead)
        const writes: StoreWrite[] = []
        let used = 0
        for (
          let nl = text.indexOf(10);
          nl >= 0 && writes.length < this.#o.batch;
          nl = text.indexOf(10, used)
        ) {
          const write = decodeWrite(text.subarray(used, nl).toString('utf8'))
          if (write === null) this.#lose(1, `unreadable line in ${path}`)
          else writes.push(write)
          used = nl + 1
        }
        if (used === 0) {
          // No complete line: a longer one (grow the read), or a torn end left by a crash.
          if (bytesRead < chunk) {
            this.#lose(1, `torn last line in ${path}`)
            break
          }
          if (chunk >= MAX_LINE) {
            this.#lose(1, `line over ${MAX_LINE} bytes in ${path}`)
            break
          }
          chunk *= 4
          continue
        }
        if (writes.length > 0) {
          try {
            await send(writes)
          } catch {
            this.#offsets.set(path, offset)
            return false
          }
          this.#replayed += writes.length
        }
        offset += used
        this.#offsets.set(path, offset)
        await this.#pause()
      }
    } finally {
      await handle.close().catch(() => {})
    }
    await unlink(path).catch((e: unknown) => this.#o.log.warn(`journal ${path}: cannot be removed: ${e}`))
    this.#forget(path)
    return true
  }

  /** The pause between replay batches; close() ends it early. */
  async #pause(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#o.pauseMs)
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    this.#wake = null
  }

  #forget(path: string): void {
    heldHere.delete(path)
    this.#offsets.delete(path)
    this.#held -= this.#ownSizes.get(path) ?? 0
    this.#ownSizes.delete(path)
  }

  async #write(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const lines = this.#queue
        const bytes = this.#queuedBytes
        this.#writing = lines
        this.#writingBytes = bytes
        this.#queue = []
        this.#queuedBytes = 0
        try {
          const fd = this.#open()
          const path = this.#path as string
          const written = writeAll(fd, lines.join(''))
          this.#writeInFlight = written.catch(() => {})
          await written
          this.#held += bytes
          this.#ownSizes.set(path, (this.#ownSizes.get(path) ?? 0) + bytes)
          this.#fsyncTimer ??= setTimeout(() => {
            this.#fsyncTimer = null
            void this.#sync()
          }, this.#o.fsyncMs)
        } catch (e) {
          this.#lose(lines.length, `journal write failed: ${e instanceof Error ? e.message : e}`)
        } finally {
          this.#writing = []
          this.#writingBytes = 0
        }
      }
    } finally {
      this.#drain = null
    }
  }

  /** The file appended to, opened (synchronously: once per file, and usable in an 'exit' handler) when needed. */
  #open(): number {
    if (this.#fd !== null) return this.#fd
    mkdirSync(this.#o.dir, { recursive: true })
    const path = join(this.#o.dir, newName())
    this.#fd = openSync(path, 'a', 0o600)
    this.#path = path
    heldHere.add(path)
    this.#ownSizes.set(path, 0)
    return this.#fd
  }

  /** fdatasync off the event loop (libuv's thread pool): a slow disk must not hold up SMTP. */
  #sync(fd = this.#fd, path = this.#path): Promise<void> {
    if (fd === null) return Promise.resolve()
    const done = new Promise<void>((resolve) =>
      fdatasync(fd, (e) => {
        if (e) this.#o.log.warn(`journal ${path}: fdatasync failed: ${e.message}`)
        resolve()
      }),
    )
    this.#syncing = done
    return done
  }

  /** Syncs and closes the file appended to; appends from now on start a new one. */
  async #closeFile(): Promise<void> {
    const fd = this.#fd
    const path = this.#path
    if (fd === null) return
    this.#fd = null
    this.#path = null
    await this.#writeInFlight
    await this.#syncing
    await this.#sync(fd, path)
    try {
      closeSync(fd)
    } catch {
      // closing a file we wrote cannot lose data that fdatasync did not already report
    }
  }

  #lose(count: number, why: string): void {
    if (this.#lost === 0) this.#o.log.warn(`tracking writes lost: ${why}`)
    this.#lost += count
  }
}

/** `<pid>-<ms>-<n>.jnl`: sorted by byAge, files replay in the order they were started. */
function newName(): string {
  return `${process.pid}-${Date.now()}-${sequence++}.jnl`
}

function byAge(a: string, b: string): number {
  const key = (n: string) => n.split('-').slice(1, 3).map(Number)
  const [am = 0, an = 0] = key(a)
  const [bm = 0, bn = 0] = key(b)
  return am - bm || an - bn || a.localeCompare(b)
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function writeAll(fd: number, text: string): Promise<void> {
  const buf = Buffer.from(text)
  let done = 0
  while (done < buf.length) {
    done += await new Promise<number>((resolve, reject) =>
      write(fd, buf, done, buf.length - done, null, (e, n) => (e ? reject(e) : resolve(n))),
    )
  }
}

/** A journal line back to a write; null when it is not one (a torn or foreign line). */
function decodeWrite(line: string): StoreWrite | null {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return null
  }
  if (typeof v !== 'object' || v === null) return null
  const { recipients, now } = v as Partial<StoreWrite>
  if (typeof now !== 'number' || !Array.isArray(recipients)) return null
  if ('header' in v) {
    const { header, queueIds } = v as Partial<TraceWrite>
    if (typeof header !== 'object' || header === null || typeof header.txn !== 'string') return null
    return Array.isArray(queueIds) ? (v as TraceWrite) : null
  }
  const { message } = v as Partial<RecordWrite>
  if (typeof message !== 'object' || message === null) return null
  if (typeof message.envid !== 'string' || typeof message.txn !== 'string') return null
  return v as RecordWrite
}
