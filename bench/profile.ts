/** With BENCH_PROF=<dir>, the node options that make a Haraka process write a CPU profile there on exit. */
export function profileArgs(): string[] {
  const dir = process.env.BENCH_PROF
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}
