// npm run bench [-- smtp|mtqp|memory|flat ...]: every benchmark prints ratios against a baseline measured in the
// same run, and every phase is bounded in time (a hung phase names itself and exits non-zero). Not part of npm
// test: numbers are for reading, never for pass/fail.
import { phase } from './bound'
import { benchFlat } from './flat'
import { benchMemory } from './memory'
import { benchMtqp } from './mtqp'
import { benchSmtp } from './smtp'

async function main(): Promise<void> {
  const [which, ...rest] = process.argv.slice(2)
  const n = rest.map(Number)
  if (!which || which === 'smtp') await phase('smtp', 600, () => benchSmtp(n[0], n[1]))
  if (!which || which === 'mtqp') await phase('mtqp', 600, () => benchMtqp(n[0]))
  if (!which || which === 'memory') await phase('memory', 300, () => benchMemory())
  if (!which || which === 'flat') await phase('flat', 900, () => benchFlat(n[0]))
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  },
)
