// `npm run config:docs`: writes config/mtrk.ini and README.md's option tables from the option table
// (src/config/options.ts). With --check it writes nothing and exits 1 when either file differs from the table.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { renderIni, renderReadmeOptions, replaceReadmeRegion } from '../src/config/docs'
import { OPTIONS } from '../src/config/options'

const root = join(__dirname, '..')
const check = process.argv.includes('--check')
const readmePath = join(root, 'README.md')
const files = {
  [join(root, 'config', 'mtrk.ini')]: renderIni(OPTIONS),
  [readmePath]: replaceReadmeRegion(readFileSync(readmePath, 'utf8'), renderReadmeOptions(OPTIONS)),
}
let stale = 0
for (const [path, wanted] of Object.entries(files)) {
  if (readFileSync(path, 'utf8') === wanted) continue
  if (check) {
    console.error(`${path} differs from src/config/options.ts: run npm run config:docs`)
    stale++
  } else {
    writeFileSync(path, wanted)
    console.log(`wrote ${path}`)
  }
}
process.exit(stale === 0 ? 0 : 1)
