// npm run bench [-- smtp|mtqp|memory|flat|trace-smtp|trace-search ...]: every benchmark prints ratios against a
// baseline measured in the same run, and every phase is bounded in time (a hung phase names itself and exits
// non-zero). Not part of npm test: numbers are for reading, never for pass/fail.
//   smtp [count] [connections] (smtp-split: its cost split alone)   mtqp [seconds per run]   flat [largest count]
//   trace-smtp [count] [connections]   trace-search [sizes, comma-separated]
// npm run bench -- soak [seconds] [connections]: the soak under Redis faults (bench/soak.ts); not run by default.
import { phase } from './bound'
import { benchFlat } from './flat'
import { benchMemory } from './memory'
import { benchMtqp } from './mtqp'
import { benchSmtp, benchSmtpSplit } from './smtp'
import { soak } from './soak'
import { benchTraceSearch, benchTraceSmtp } from './trace'

async function main(): Promise<void> {
  const [which, count, connections] = process.argv.slice(2)
  const n = count ? Number(count) : undefined
  const c = connections ? Number(connections) : undefined
  if (!which || which === 'smtp') await phase('smtp', 600, () => benchSmtp(n, c))
  if (!which || which === 'smtp' || which === 'smtp-split')
    await phase('smtp-split', 600, () => benchSmtpSplit(n, c))
  if (!which || which === 'mtqp') await phase('mtqp', 600, () => benchMtqp(n))
  if (!which || which === 'memory') await phase('memory', 300, () => benchMemory())
  if (!which || which === 'flat') await phase('flat', 900, () => benchFlat(n))
  if (which === 'soak') await soak(n, c)
  if (!which || which === 'trace-smtp') await phase('trace-smtp', 600, () => benchTraceSmtp(n, c))
  if (!which || which === 'trace-search')
    await phase('trace-search', 900, () => benchTraceSearch(count ? count.split(',').map(Number) : undefined))
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  },
)
