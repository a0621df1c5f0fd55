// Every bench phase runs under a time bound: a phase that hangs names itself and ends the run with a non-zero exit
// (the helpers' exit hooks kill the Haraka and Redis processes they started).

/** Runs `fn` as phase `name`; past `seconds` prints which phase hung and exits with status 2. */
export async function phase<T>(name: string, seconds: number, fn: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => {
    console.error(`bench: phase "${name}" did not finish within ${seconds} s; stopping`)
    process.exit(2)
  }, seconds * 1000)
  try {
    return await fn()
  } finally {
    clearTimeout(timer)
  }
}

/** `a/b` with three decimals, for the ratio lines. */
export function ratio(a: number, b: number): string {
  return (a / b).toFixed(3)
}
