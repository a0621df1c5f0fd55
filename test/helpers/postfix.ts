// A private Postfix (Debian `postfix`), the reference MTA of the tests: its own config, queue and data directories
// under a temporary directory, smtpd on a free loopback port, every daemon unchrooted, the log in a file the test
// reads. Started with `postfix -c <dir> start`, stopped with `postfix -c <dir> stop`; several run side by side.
import { execFile } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { connect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort, waitFor } from './ports'

const POSTFIX = '/usr/sbin/postfix'
const MASTER_CF = '/usr/share/postfix/master.cf.dist'
/** Postfix drops privileges to this account (Debian creates it with the package). */
const MAIL_OWNER = 'postfix'

/** Whether Postfix can run here: installed, and we are root (`postfix start` needs root to drop to mail_owner). */
export function postfixAvailable(): boolean {
  return existsSync(POSTFIX) && existsSync(MASTER_CF) && userInfo().uid === 0
}

export interface PostfixOptions {
  /** myhostname; default postfix.test. */
  hostname?: string
  /** Where mail goes when no transport entry matches, e.g. `[127.0.0.1]:2525`; unset: default_transport applies. */
  relayhost?: string
  /** transport_maps entries, domain -> transport:nexthop (e.g. `smtp:[127.0.0.1]:2526`), as a texthash table. */
  transport?: Record<string, string>
  /** default_transport when no relayhost is set; default `discard` so accepted mail never leaves the machine. */
  defaultTransport?: string
  /** Any other main.cf parameters; they override the helper's. */
  main?: Record<string, string | number>
}

export interface PostfixInstance {
  /** The temporary directory holding etc/, queue/, data/ and maillog. */
  dir: string
  configDir: string
  smtpPort: number
  /** What Postfix logged so far (maillog_file through postlogd). */
  logs(): string
  waitForLog(re: RegExp, ms?: number): Promise<void>
  /** `postconf -c <dir> -h <name>`: a parameter's effective value. */
  postconf(name: string): Promise<string>
  stop(): Promise<void>
}

function run(args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      args[0]!,
      args.slice(1),
      { env: { ...process.env, ...env }, timeout: 60000 },
      (e, stdout, stderr) => {
        if (e) reject(new Error(`${args.join(' ')} failed: ${e.message}\n${stdout}${stderr}`))
        else resolve(stdout)
      },
    )
  })
}

/**
 * master.cf of the Debian package with chroot turned off for every service (a chroot would need copies of /etc
 * files inside the temporary queue directory) and its `smtp inet` service replaced by one on 127.0.0.1:port.
 */
function masterCf(port: number): string {
  const services = readFileSync(MASTER_CF, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
  const out: string[] = []
  for (const line of services) {
    const f = line.split(/\s+/)
    if (/^\s/.test(line)) out.push(line)
    else if (f[0] === 'smtp' && f[1] === 'inet') continue
    else if (f.length >= 8) out.push([...f.slice(0, 4), 'n', ...f.slice(5)].join(' '))
    else out.push(line)
  }
  out.push(`127.0.0.1:${port} inet n - n - - smtpd`)
  return `${out.join('\n')}\n`
}

function mainCf(dir: string, opts: PostfixOptions): string {
  const params: Record<string, string | number> = {
    compatibility_level: '3.6',
    config_directory: join(dir, 'etc'),
    queue_directory: join(dir, 'queue'),
    data_directory: join(dir, 'data'),
    mail_owner: MAIL_OWNER,
    myhostname: opts.hostname ?? 'postfix.test',
    mydomain: opts.hostname ?? 'postfix.test',
    myorigin: '$myhostname',
    // Nothing is local: every recipient is relayed, and loopback clients may relay anywhere.
    mydestination: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject',
    smtputf8_enable: 'yes',
    biff: 'no',
    maillog_file: join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    // Tests send to names under .test and example domains: never ask DNS for them.
    smtp_dns_support_level: 'disabled',
    smtp_host_lookup: 'native',
    ...(opts.relayhost
      ? { relayhost: opts.relayhost }
      : { default_transport: opts.defaultTransport ?? 'discard' }),
    ...(opts.transport ? { transport_maps: `texthash:${join(dir, 'etc', 'transport')}` } : {}),
    ...opts.main,
  }
  return `${Object.entries(params)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`
}

/** Starts a private Postfix and waits until its smtpd greets. Stop it with stop(); it is also killed at exit. */
export async function startPostfix(opts: PostfixOptions = {}): Promise<PostfixInstance> {
  if (!postfixAvailable())
    throw new Error('postfix is not installed or we are not root (scripts/test.sh installs it)')
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-postfix-'))
  // The daemons run as mail_owner and must reach the queue and data directories through this one.
  chmodSync(dir, 0o755)
  const configDir = join(dir, 'etc')
  for (const sub of ['etc', 'queue', 'data']) mkdirSync(join(dir, sub))
  const owner = Number((await run(['id', '-u', MAIL_OWNER])).trim())
  chownSync(join(dir, 'data'), owner, -1)
  const smtpPort = await freePort()
  writeFileSync(join(configDir, 'master.cf'), masterCf(smtpPort))
  writeFileSync(join(configDir, 'main.cf'), mainCf(dir, opts))
  if (opts.transport) {
    const table = Object.entries(opts.transport).map(([domain, t]) => `${domain} ${t}`)
    writeFileSync(join(configDir, 'transport'), `${table.join('\n')}\n`)
  }
  const logFile = join(dir, 'maillog')
  const logs = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')

  let running = true
  const stop = async () => {
    if (!running) return
    running = false
    await run([POSTFIX, '-c', configDir, 'stop']).catch(() => run([POSTFIX, '-c', configDir, 'abort']))
    // `stop` returns once master was signalled; wait for it to release its pid file's lock and port.
    const pidFile = join(dir, 'queue', 'pid', 'master.pid')
    await waitFor(() => !masterAlive(pidFile), 15000, 'postfix master to exit').catch(() => {})
  }
  process.once('exit', () => {
    if (running) killMaster(join(dir, 'queue', 'pid', 'master.pid'))
    rmSync(dir, { recursive: true, force: true })
  })

  try {
    await run([POSTFIX, '-c', configDir, 'start'])
    await waitFor(() => logs().includes('daemon started'), 30000, 'postfix master to start')
    await waitFor(() => greets(smtpPort), 30000, 'postfix smtpd to greet')
  } catch (e) {
    await stop()
    throw new Error(`${e instanceof Error ? e.message : String(e)}\npostfix log:\n${logs().slice(-3000)}`)
  }

  return {
    dir,
    configDir,
    smtpPort,
    logs,
    async waitForLog(re, ms = 15000) {
      await waitFor(() => re.test(logs()), ms, `postfix log ${re}`)
    },
    async postconf(name) {
      return (await run(['/usr/sbin/postconf', '-c', configDir, '-h', name])).trim()
    },
    stop,
  }
}

function masterPid(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null
  const pid = Number(readFileSync(pidFile, 'utf8').trim())
  return Number.isInteger(pid) && pid > 0 ? pid : null
}

function masterAlive(pidFile: string): boolean {
  const pid = masterPid(pidFile)
  if (pid === null) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function killMaster(pidFile: string): void {
  const pid = masterPid(pidFile)
  try {
    // The master's children exit when it does (they watch its status pipe).
    if (pid !== null) process.kill(pid, 'SIGKILL')
  } catch {}
}

function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.setTimeout(2000, () => s.destroy())
    s.on('error', () => resolve(false))
    s.on('close', () => resolve(false))
    s.once('data', (d) => {
      resolve(d.toString().startsWith('220'))
      s.end('QUIT\r\n')
    })
  })
}
