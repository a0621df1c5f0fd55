// npm run bench [-- smtp|mtqp|trace-smtp [count] [connections] | trace-search [sizes]]: every benchmark prints a ratio against a baseline measured in
// the same run. Not part of npm test: numbers are for reading, never for pass/fail.
// npm run bench -- soak [seconds] [connections]: the soak under Redis faults (bench/soak.ts); not run by default.
import { benchMtqp } from './mtqp'
import { benchSmtp } from './smtp'
import { soak } from './soak'
import { benchTraceSearch, benchTraceSmtp } from './trace'

async function main(): Promise<void> {
  const [which, count, connections] = process.argv.slice(2)
  const n = count ? Number(count) : undefined
  const c = connections ? Number(connections) : undefined
  if (!which || which === 'smtp') await benchSmtp(n, c)
  if (!which || which === 'mtqp') await benchMtqp(n, c)
  if (which === 'soak') await soak(n, c)
  if (!which || which === 'trace-smtp') await benchTraceSmtp(n, c)
  if (!which || which === 'trace-search')
    await benchTraceSearch(count ? count.split(',').map(Number) : undefined)
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  },
)
