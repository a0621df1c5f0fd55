import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeStatus } from '../../src/tsn/status-text'

const cases: [code: string, text: string][] = [
  ['2.1.9', 'Success: message relayed to non-compliant mailer'], // ESC-2, RFC 3886 §3.3.4
  ['2.4.0', 'Success: other or undefined network or routing status'],
  ['2.5.0', 'Success: other or undefined protocol status'],
  ['4.4.1', 'Persistent transient failure: no answer from host'],
  ['5.2.2', 'Permanent failure: mailbox full'],
  ['5.1.10', 'Permanent failure: recipient address has null MX'],
  ['4.3.5', 'Persistent transient failure: system incorrectly configured'],
  ['5.7.7', 'Permanent failure: message integrity failure'],
  [' 2.1.9 ', 'Success: message relayed to non-compliant mailer'],
  ['2.01.9', 'Success: message relayed to non-compliant mailer'], // malformed but unambiguous
  ['4.4.99', 'Persistent transient failure: network and routing status'], // ESC-4: class and subject
  ['2.1.11', 'Success: addressing status'], // ESC-4
  ['5.9.0', 'Permanent failure: unknown subject'], // RFC 3463 §2: the class is still reported
  ['3.1.1', 'Unknown status class 3'],
]

for (const [code, text] of cases) {
  test(`describeStatus(${JSON.stringify(code)}) → ${text}`, () => {
    assert.equal(describeStatus(code), text)
  })
}

test('every detail code of RFC 3463 §3, X.1.9 and X.1.10 has its own text, in every class', () => {
  const details = [
    ['0.0'],
    ['1.0', '1.1', '1.2', '1.3', '1.4', '1.5', '1.6', '1.7', '1.8', '1.9', '1.10'],
    ['2.0', '2.1', '2.2', '2.3', '2.4'],
    ['3.0', '3.1', '3.2', '3.3', '3.4', '3.5'],
    ['4.0', '4.1', '4.2', '4.3', '4.4', '4.5', '4.6', '4.7'],
    ['5.0', '5.1', '5.2', '5.3', '5.4', '5.5'],
    ['6.0', '6.1', '6.2', '6.3', '6.4', '6.5'],
    ['7.0', '7.1', '7.2', '7.3', '7.4', '7.5', '7.6', '7.7'],
  ].flat()
  for (const cls of ['2', '4', '5']) {
    const texts = details.map((detail) => describeStatus(`${cls}.${detail}`))
    assert.equal(new Set(texts).size, details.length, 'distinct texts')
    for (const [i, text] of texts.entries()) {
      const subjectOnly = describeStatus(`${cls}.${details[i]!.split('.')[0]}.999`)
      assert.notEqual(text, subjectOnly, `${cls}.${details[i]} falls back to its subject`)
    }
  }
})

test('garbage gets a fixed text that does not echo the input', () => {
  for (const garbage of [
    '',
    'abc',
    '2.1',
    '2.1.9.9',
    '2.1.9 (x)',
    '2.1000.1',
    '\u001b[2J',
    'x'.repeat(10_000),
  ]) {
    assert.equal(describeStatus(garbage), 'Unknown status: not an enhanced status code')
  }
})
