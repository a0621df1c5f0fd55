// A real Haraka process per test: a fresh instance directory with this repository linked in as the installed
// package `haraka-plugin-mtrk` (the way users install it), real SMTP on a free loopback port.
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import type { OutboundRecipient } from '../../src/haraka/types'
import { freePort, waitFor } from './ports'

export const REPO = resolve(__dirname, '..', '..')

/** @haraka/email-address's Address, the class Haraka's addresses are (its typings are ESM-only; the tests are CJS). */
export const Address = (
  require('@haraka/email-address') as { Address: new (addr: string) => OutboundRecipient }
).Address
const HARAKA_BIN = join(REPO, 'node_modules', 'Haraka', 'bin', 'haraka')
const FIXTURE_PLUGINS = join(REPO, 'test', 'fixtures', 'haraka', 'plugins')
/** Public DH parameters made once with `openssl dhparam 2048`, shared by every test instance. */
export const DHPARAMS = join(REPO, 'test', 'fixtures', 'dhparams.pem')

export type Ini = Record<string, Record<string, string | number | boolean>>

export interface HarakaOptions {
  redisPort: number
  /** 0: one process; 1 or more: cluster with that many workers (Haraka's default mode). */
  nodes?: number
  plugins?: string[]
  /** Sections of config/mtrk.ini; [redis] port and prefix are filled in. */
  mtrk?: Ini
  /** Other config files, by name under config/. */
  files?: Record<string, string>
  me?: string
  env?: Record<string, string>
  /** Key prefix in Redis; unique per instance by default. */
  prefix?: string
  /** Where node_modules/haraka-plugin-mtrk comes from: this repository linked in (default), or an npm install. */
  pluginDir?: string
  /** Options for the node running Haraka, e.g. --cpu-prof for a benchmark. */
  nodeArgs?: string[]
  /** false: write no config/mtrk.ini, so the package's shipped defaults apply. */
  writeMtrkIni?: boolean
  /** Plugin files to install besides test/fixtures/haraka/plugins (a benchmark's own), each a path. */
  pluginFiles?: string[]
}

export interface HarakaInstance {
  dir: string
  smtpPort: number
  mtqpPort: number
  prefix: string
  me: string
  /** The Haraka process (the master in cluster mode), while it runs. */
  pid(): number | undefined
  logs(): string
  waitForLog(re: RegExp, ms?: number): Promise<void>
  stop(): Promise<void>
  start(): Promise<void>
}

/** What each instance leaves behind if the process exits first: one exit listener for every instance started. */
const atExit = new Set<() => void>()
process.once('exit', () => {
  for (const clean of atExit) clean()
})

/** The text of an ini file with these sections. */
export function ini(sections: Ini): string {
  return Object.entries(sections)
    .map(
      ([name, kv]) =>
        `[${name}]\n${Object.entries(kv)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n')}\n`,
    )
    .join('\n')
}

async function smtpGreets(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1')
    s.setTimeout(1000, () => s.destroy())
    s.on('error', () => res(false))
    s.on('close', () => res(false))
    s.once('data', (d) => {
      res(d.toString().startsWith('220'))
      s.end('QUIT\r\n')
    })
  })
}

/**
 * Wraps test bodies so that a failure carries the last `lines` lines of an instance's log (what Haraka did is the
 * first thing to look at). `haraka` is read when the body fails: the instance may be started after this is made.
 */
export function explainedBy(haraka: () => HarakaInstance | undefined, lines = 50) {
  return (body: () => Promise<void>) => async () => {
    try {
      await body()
    } catch (e) {
      const h = haraka()
      if (e instanceof Error && h)
        e.message += `\n--- Haraka ${h.me}, last lines:\n${h.logs().split('\n').slice(-lines).join('\n')}`
      throw e
    }
  }
}

export async function startHaraka(opts: HarakaOptions): Promise<HarakaInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-haraka-'))
  const config = join(dir, 'config')
  mkdirSync(config)
  mkdirSync(join(dir, 'plugins'))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(opts.pluginDir ?? REPO, join(dir, 'node_modules', 'haraka-plugin-mtrk'))
  for (const f of readdirSync(FIXTURE_PLUGINS)) cpSync(join(FIXTURE_PLUGINS, f), join(dir, 'plugins', f))
  for (const f of opts.pluginFiles ?? []) cpSync(f, join(dir, 'plugins', basename(f)))

  const smtpPort = await freePort()
  const mtqpPort = await freePort()
  const prefix = opts.prefix ?? `t${randomBytes(4).toString('hex')}:`
  const me = opts.me ?? 'mx.haraka.test'
  const mtrk: Ini = {
    ...opts.mtrk,
    redis: { host: '127.0.0.1', port: opts.redisPort, prefix, ...opts.mtrk?.redis },
    mtqp: { listen: `127.0.0.1:${mtqpPort}`, ...opts.mtrk?.mtqp },
  }
  const files: Record<string, string> = {
    'smtp.ini': `listen=127.0.0.1:${smtpPort}\nnodes=${opts.nodes ?? 0}\ngraceful_shutdown=true\nforce_shutdown_timeout=5\n`,
    'log.ini': '[main]\nlevel=info\n',
    plugins: `${(opts.plugins ?? ['test_rcpt', 'mtrk', 'test_queue']).join('\n')}\n`,
    ...(opts.writeMtrkIni === false ? {} : { 'mtrk.ini': ini(mtrk) }),
    me: `${me}\n`,
    ...opts.files,
  }
  // Haraka reads an ini file from the instance or from its defaults, never merged: start from the repository's.
  cpSync(join(REPO, 'config', 'connection.ini'), join(config, 'connection.ini'))
  // Without it Haraka spends a minute of CPU on `openssl dhparam 2048` as soon as a certificate is installed.
  cpSync(DHPARAMS, join(config, 'dhparams.pem'))
  for (const [name, content] of Object.entries(files)) writeFileSync(join(config, name), content)

  let proc: ChildProcess | null = null
  let output = ''
  const instance: HarakaInstance = {
    dir,
    smtpPort,
    mtqpPort,
    prefix,
    me,
    pid: () => (proc as ChildProcess | null)?.pid,
    logs: () => output,
    async waitForLog(re, ms = 10000) {
      await waitFor(() => re.test(output), ms, `Haraka log ${re}`)
    },
    async start() {
      // An unhandled rejection stops Haraka (and so fails the test) rather than going by unnoticed.
      const nodeArgs = ['--unhandled-rejections=strict', ...(opts.nodeArgs ?? [])]
      const p = spawn(process.execPath, [...nodeArgs, HARAKA_BIN, '-c', dir], {
        cwd: dir,
        env: { ...process.env, ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      proc = p
      p.stdout?.on('data', (d: Buffer) => {
        output += d.toString()
      })
      p.stderr?.on('data', (d: Buffer) => {
        output += d.toString()
      })
      await waitFor(
        async () => {
          if (p.exitCode !== null)
            throw new Error(`Haraka exited with ${p.exitCode}:\n${output.slice(-3000)}`)
          return smtpGreets(smtpPort)
        },
        30000,
        'Haraka to greet',
      )
    },
    async stop() {
      const p = proc
      proc = null
      if (!p || p.exitCode !== null) return
      const exited = new Promise((r) => p.once('exit', r))
      p.kill('SIGINT')
      const timer = setTimeout(() => p.kill('SIGKILL'), 10000)
      await exited
      clearTimeout(timer)
    },
  }
  atExit.add(() => {
    ;(proc as ChildProcess | null)?.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  await instance.start()
  return instance
}
