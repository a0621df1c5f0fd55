// The acceptance rule as a pure decision (src/esmtp/acceptance.ts), against Haraka's own command parser
// (haraka-utils rfc1869, what Haraka runs before any plugin): the property half of issue 10's proof. The other half,
// the same lines sent to real Haraka processes and Postfix, is test/plugin/acceptance.test.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { parseConfig } from '../../src/config/config'
import { decideCommand, REFUSALS } from '../../src/esmtp/acceptance'
import type { ParamPolicy } from '../../src/esmtp/params'
import { splitCommandParams } from '../../src/esmtp/params'
import { acceptedLine, CORPUS, faultyLine } from './lines'

const rfc1869 = require('haraka-utils/lib/rfc1869') as { parse(type: string, line: string): string[] }

const { config } = parseConfig({})
/** The policy of a default config/mtrk.ini, as src/plugin/state.ts builds it. */
export const DEFAULT_POLICY: ParamPolicy = {
  allowed: config.main.allowedParams,
  rejectUnknown: config.main.rejectUnknownParams,
  mtrkWithoutEnvid: config.main.mtrkWithoutEnvid,
}

/** What Haraka's core makes of a line before the mail/rcpt hooks: null when it answers 501 itself. */
function harakaParams(line: string): string[] | null {
  const m = /^(MAIL|RCPT)\s+(.*)$/i.exec(line)
  if (!m) return null
  try {
    // AMB-2: the plugin unpads MTRK certifiers before Haraka's parser runs (src/haraka/inbound.ts).
    const parsed = rfc1869.parse(m[1]!.toLowerCase(), m[2]!.replace(/(\sMTRK=[A-Za-z0-9+/]+)=+/i, '$1'))
    return parsed.slice(1).map((p) => (p.split('=')[0] ?? '').toUpperCase())
  } catch {
    return null
  }
}

test('the corpus: every line gets the verdict it lists (issue 10 cases 1-5 among them)', () => {
  assert.ok(CORPUS.length >= 100, `${CORPUS.length} lines`)
  for (const { line, expect } of CORPUS) {
    if (expect === 'haraka') {
      assert.equal(harakaParams(line), null, `Haraka itself refuses ${line}`)
      continue
    }
    const d = decideCommand(line, DEFAULT_POLICY)
    assert.ok(d, line)
    if (expect === 'accept' || expect === 'amb2')
      assert.ok(d.accept, `${line}: ${d.accept ? '' : d.rejection.message}`)
    else {
      assert.ok(!d.accept, `${line} must be refused (${expect})`)
      assert.equal(d.rejection.kind, expect, `${line}: ${d.rejection.message}`)
      assert.equal(d.rejection.code, REFUSALS[expect].code)
    }
  }
})

test('property: a line Haraka accepts and the rule does not list is accepted, with the parameters Haraka sees', () => {
  fc.assert(
    fc.property(acceptedLine, (line) => {
      const keys = harakaParams(line)
      fc.pre(keys !== null)
      const d = decideCommand(line, DEFAULT_POLICY)
      assert.ok(d?.accept, `${line}: ${d && !d.accept ? d.rejection.message : 'not a command'}`)
      // The plugin judges the parameters Haraka found, no more (the path is never taken for one).
      const ours = [...new Set((splitCommandParams(line) ?? []).map((p) => p.keyword))].sort()
      assert.deepEqual(ours, [...new Set(keys)].sort(), line)
    }),
    { numRuns: 2000 },
  )
})

test('property: one listed fault in such a line is refused, with that refusal', () => {
  fc.assert(
    fc.property(faultyLine, ({ line, kind }) => {
      fc.pre(harakaParams(line) !== null)
      const d = decideCommand(line, DEFAULT_POLICY)
      assert.ok(d && !d.accept, `${line} must be refused (${kind})`)
      assert.equal(d.rejection.kind, kind, `${line}: ${d.rejection.message}`)
    }),
    { numRuns: 2000 },
  )
})
