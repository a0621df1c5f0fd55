// The package's commands (bin/*.js, the built package) run as a user runs them: a process of their own.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { REPO } from './haraka'

export interface Ran {
  /** The exit status; null when a signal ended the process. */
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `node bin/<command>.js <args>` with `env` added to this process's environment and `stdin` as its standard
 * input; resolves when it exits.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  stdin = '',
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(REPO, 'bin', `${command}.js`), ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    p.stdin.end(stdin)
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    p.on('error', reject)
    p.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
