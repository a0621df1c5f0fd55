import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Hop } from '../../src/client/follow'
import { renderReport } from '../../src/client/render'
import { reportOf } from '../../src/client/track'
import { tv7Status } from '../tsn/helpers'

function answered(skipped?: string[]): Hop {
  return {
    id: 0,
    target: { kind: 'server', host: 'mtqp.example.net' },
    parent: null,
    depth: 1,
    outcome: {
      kind: 'answered',
      server: { name: 'mtqp.example.net', port: 1038, address: '192.0.2.1', via: 'direct', tls: null },
      parts: [tv7Status()],
      ...(skipped === undefined ? {} : { skipped }),
    },
  }
}

test('MTQPC-5: the hop line says what of an answer was skipped (issue 10 case 6)', () => {
  const skipped = ['part 2: Arrival-Date: not an RFC 5322 date-time (part skipped)']
  assert.match(
    renderReport(reportOf('1@h.example.com', [answered(skipped)])),
    /: 1 report; skipped: part 2: Arrival-Date: not an RFC 5322 date-time \(part skipped\)\n/,
  )
  assert.doesNotMatch(renderReport(reportOf('1@h.example.com', [answered()])), /skipped/)
})
