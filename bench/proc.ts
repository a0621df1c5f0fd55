// What /proc says about a process under test: memory and CPU time, steadier than rates on a shared machine.
import { readFileSync } from 'node:fs'

/** Resident set size in KiB. */
export function rssKiB(pid: number | undefined): number {
  const status = pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : ''
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

/** CPU seconds (user + system) the process has used. */
export function cpuSeconds(pid: number | undefined): number {
  const stat = pid ? readFileSync(`/proc/${pid}/stat`, 'utf8') : ''
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ = 100)
}
