// Bench helpers run as processes of their own (the load generator, the ceiling server), so that no two measured
// parts share an event loop.
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

/** `node --import tsx bench/<script>.ts args...`, stdout collected. */
export function spawnBench(
  script: string,
  args: readonly (string | number)[],
): ChildProcess & { out(): string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, `${script}.ts`), ...args.map(String)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  children.add(child)
  child.once('exit', () => children.delete(child))
  let out = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  return Object.assign(child, { out: () => out })
}

/** Runs a bench script to its end; resolves with its stdout, rejects on a non-zero exit. */
export function runBench(script: string, args: readonly (string | number)[]): Promise<string> {
  const child = spawnBench(script, args)
  return new Promise((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(child.out()) : reject(new Error(`bench/${script}.ts exited with ${code}`)),
    ),
  )
}
