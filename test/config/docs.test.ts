// The shipped config/mtrk.ini and README's option tables say what the option table says (npm run config:docs).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { type IniSections, parseConfig } from '../../src/config/config'
import { README_BEGIN, README_END, renderIni, renderReadmeOptions } from '../../src/config/docs'
import { iniKey, OPTIONS } from '../../src/config/options'

/** haraka-config's own ini parser: the file is read here exactly as Haraka reads it. */
const { parseIni } = require('haraka-config/lib/readers/ini') as {
  parseIni(name: string, options: object, data: string): IniSections
}

const REPO = join(__dirname, '..', '..')
const shippedIni = readFileSync(join(REPO, 'config', 'mtrk.ini'), 'utf8')

test('config/mtrk.ini is the one npm run config:docs writes from the option table', () => {
  assert.equal(shippedIni, renderIni(OPTIONS), 'config/mtrk.ini is stale: run npm run config:docs')
})

test("README's option tables are the ones npm run config:docs writes from the option table", () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
  const region = readme.slice(readme.indexOf(README_BEGIN), readme.indexOf(README_END) + README_END.length)
  assert.equal(region, renderReadmeOptions(OPTIONS), 'README.md is stale: run npm run config:docs')
})

test('every option is in the shipped ini, and uncommented it reads back as its default without a complaint', () => {
  const uncommented = shippedIni.replace(/^;(\w+=)/gm, '$1')
  const ini = parseIni('mtrk.ini', {}, uncommented)
  for (const [name, section] of Object.entries(OPTIONS)) {
    for (const [field, option] of Object.entries(section.options)) {
      assert.ok(Object.hasOwn(ini[name] ?? {}, iniKey(field, option)), `[${name}] ${iniKey(field, option)}`)
    }
  }
  assert.deepEqual(parseConfig(ini), parseConfig({}))
  assert.deepEqual(parseConfig({}).errors, [])
})
