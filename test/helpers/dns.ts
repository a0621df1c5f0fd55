// A real local DNS server (dnsmasq) answering SRV and address records, for discovery tests (MTQPC-1). It is
// authoritative for the zones it serves (--local), so a missing SRV record is NODATA, as on the Internet.
import { type ChildProcess, spawn } from 'node:child_process'
import { freePort, waitFor } from './ports'

export interface SrvEntry {
  /** The owner name, e.g. _mtqp._tcp.mx.b.test */
  name: string
  /** The target host; "." (the default when omitted) says there is no service. */
  target?: string
  port?: number
  priority?: number
  weight?: number
}

export interface DnsServer {
  port: number
  /** `127.0.0.1:<port>`, for --dns-server and dns.setServers. */
  address: string
  stop(): Promise<void>
}

const DNSMASQ = '/usr/sbin/dnsmasq'

/** Starts dnsmasq on a free port: `zones` are answered locally, every name under them has `address`. */
export async function startDns(opts: {
  zones: string[]
  address?: string
  srv: SrvEntry[]
}): Promise<DnsServer> {
  const port = await freePort()
  const args = [
    '--no-daemon',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--conf-file=/dev/null',
    ...opts.zones.flatMap((z) => [`--local=/${z}/`, `--address=/${z}/${opts.address ?? '127.0.0.1'}`]),
    ...opts.srv.map((s) =>
      s.target === undefined
        ? `--srv-host=${s.name}`
        : `--srv-host=${s.name},${s.target},${s.port ?? 1038},${s.priority ?? 0},${s.weight ?? 0}`,
    ),
  ]
  const proc: ChildProcess = spawn(DNSMASQ, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let output = ''
  proc.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  const kill = () => proc.kill('SIGKILL')
  process.once('exit', kill)
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited: ${output}`)
      return /started/.test(output)
    },
    5000,
    'dnsmasq to start',
  )
  return {
    port,
    address: `127.0.0.1:${port}`,
    async stop() {
      process.removeListener('exit', kill)
      if (proc.exitCode !== null) return
      const exited = new Promise((r) => proc.once('exit', r))
      proc.kill('SIGTERM')
      await exited
    },
  }
}
