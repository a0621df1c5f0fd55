import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type FramedLine, LineDecoder, MAX_LINE_OCTETS, OVERLONG_HEAD_OCTETS } from '../../src/mtqp/framing'
import { cutAt, feed, feedThreeWays } from '../helpers/chunking'

const decoder = (max?: number) => () => new LineDecoder(max === undefined ? {} : { maxLineOctets: max })
const line = (l: string, eol: 'crlf' | 'lf' = 'crlf', printable = true): FramedLine => ({
  kind: 'line',
  line: l,
  printable,
  eol,
})

test('MTQP-4: CRLF-terminated lines, in order, without their endings (three ways)', () => {
  const out = feedThreeWays(decoder(), 'TRACK a@b.example QUJD\r\nCOMMENT hi\r\n\r\nQUIT\r\n')
  assert.deepStrictEqual(out, [line('TRACK a@b.example QUJD'), line('COMMENT hi'), line(''), line('QUIT')])
})

test('an incomplete last line is held, not returned', () => {
  const d = new LineDecoder()
  assert.deepStrictEqual(d.push(Buffer.from('QUIT\r\nTRA')), [line('QUIT')])
  assert.equal(d.bufferedBytes, 3)
  assert.deepStrictEqual(d.push(Buffer.from('CK x\r')), [])
  assert.equal(d.bufferedBytes, 8)
  assert.deepStrictEqual(d.push(Buffer.from('\n')), [line('TRACK x')])
  assert.equal(d.bufferedBytes, 0)
})

test('bare LF is accepted as a line end and reported as eol "lf" (three ways)', () => {
  assert.deepStrictEqual(feedThreeWays(decoder(), 'QUIT\nCOMMENT x\r\n\n'), [
    line('QUIT', 'lf'),
    line('COMMENT x'),
    line('', 'lf'),
  ])
})

test('a lone CR is an ordinary octet: it does not end the line and makes it non-printable (three ways)', () => {
  assert.deepStrictEqual(feedThreeWays(decoder(), 'QU\rIT\r\nA\r\r\n'), [
    line('QU\rIT', 'crlf', false),
    line('A\r', 'crlf', false),
  ])
})

test('MTQP-4: printable flag: VCHAR, SP and HTAB are printable; controls, DEL and 8-bit octets are not', () => {
  const cases: [number[], boolean][] = [
    [[0x41, 0x20, 0x09, 0x7e, 0x21], true],
    [[0x41, 0x00], false],
    [[0x41, 0x1b], false],
    [[0x41, 0x7f], false],
    [[0x41, 0x80], false],
    [[0xc3, 0xa9], false],
  ]
  for (const [octets, printable] of cases) {
    const out = new LineDecoder().push(Buffer.from([...octets, 0x0d, 0x0a]))
    assert.equal(out.length, 1)
    const item = out[0]!
    assert.equal(item.kind, 'line')
    if (item.kind === 'line') {
      assert.equal(item.printable, printable, JSON.stringify(octets))
      // latin1: one char per octet, so nothing is lost.
      assert.deepStrictEqual(Buffer.from(item.line, 'latin1'), Buffer.from(octets))
    }
  }
})

test('MTQP-4: exactly 998 octets before CRLF is a line; 999 is overlong (three ways)', () => {
  const ok998 = 'A'.repeat(MAX_LINE_OCTETS)
  assert.deepStrictEqual(feedThreeWays(decoder(), `${ok998}\r\n`), [line(ok998)])
  assert.deepStrictEqual(feedThreeWays(decoder(), `${ok998}\n`), [line(ok998, 'lf')])
  const long = `${'B'.repeat(MAX_LINE_OCTETS + 1)}`
  const head = 'B'.repeat(OVERLONG_HEAD_OCTETS)
  assert.deepStrictEqual(feedThreeWays(decoder(), `${long}\r\n`), [{ kind: 'overlong', head }])
  assert.deepStrictEqual(feedThreeWays(decoder(), `${long}\n`), [{ kind: 'overlong', head }])
})

test('MTQP-4: a lone CR before CRLF counts as content: 997+CR is a line, 998+CR is overlong (three ways)', () => {
  const fits = `${'C'.repeat(MAX_LINE_OCTETS - 1)}\r`
  assert.deepStrictEqual(feedThreeWays(decoder(), `${fits}\r\n`), [line(fits, 'crlf', false)])
  assert.deepStrictEqual(feedThreeWays(decoder(), `${'C'.repeat(MAX_LINE_OCTETS)}\r\r\n`), [
    { kind: 'overlong', head: 'C'.repeat(OVERLONG_HEAD_OCTETS) },
  ])
})

test('MTQP-4: after an overlong line exactly one overlong item is produced and framing resynchronises', () => {
  const input = `TRACK ${'x'.repeat(1500)}\r\nQUIT\r\n${'y'.repeat(2000)}\nCOMMENT ok\r\n`
  assert.deepStrictEqual(feedThreeWays(decoder(), input), [
    { kind: 'overlong', head: `TRACK ${'x'.repeat(OVERLONG_HEAD_OCTETS - 6)}` },
    line('QUIT'),
    { kind: 'overlong', head: 'y'.repeat(OVERLONG_HEAD_OCTETS) },
    line('COMMENT ok'),
  ])
})

test('MTQP-4: the overlong item comes as soon as the excess is seen, before the line ends', () => {
  const d = new LineDecoder()
  assert.deepStrictEqual(d.push(Buffer.alloc(MAX_LINE_OCTETS + 1, 0x61)), [])
  assert.deepStrictEqual(d.push(Buffer.from('a')), [
    { kind: 'overlong', head: 'a'.repeat(OVERLONG_HEAD_OCTETS) },
  ])
  assert.equal(d.bufferedBytes, 0)
  assert.deepStrictEqual(d.push(Buffer.from('aaaa')), [])
  assert.deepStrictEqual(d.push(Buffer.from('\r\nQUIT\r\n')), [line('QUIT')])
})

test('bounded memory: 10 MB without a line end buffers at most 999 octets, yields one overlong, then resyncs', () => {
  const d = new LineDecoder()
  const chunk = Buffer.alloc(64 * 1024, 0x41)
  const out: FramedLine[] = []
  let fed = 0
  let peak = 0
  while (fed < 10 * 1024 * 1024) {
    out.push(...d.push(chunk))
    fed += chunk.length
    peak = Math.max(peak, d.bufferedBytes)
  }
  // Also in small pieces, where the limit is reached inside the buffer rather than inside one chunk.
  const small = new LineDecoder()
  for (let i = 0; i < 5000; i++) {
    small.push(Buffer.from('ABCDEFG'))
    peak = Math.max(peak, small.bufferedBytes)
  }
  assert.ok(peak <= MAX_LINE_OCTETS + 1, `buffered ${peak} octets`)
  assert.deepStrictEqual(out, [{ kind: 'overlong', head: 'A'.repeat(OVERLONG_HEAD_OCTETS) }])
  assert.deepStrictEqual(d.push(Buffer.from('\r\nQUIT\r\n')), [line('QUIT')])
})

test('bufferedBytes never exceeds maxLineOctets + 1 when fed byte by byte', () => {
  const d = new LineDecoder()
  const input = Buffer.from(`${'z'.repeat(3000)}\r\n${'q'.repeat(998)}\r`)
  for (const b of input) {
    d.push(Buffer.from([b]))
    assert.ok(d.bufferedBytes <= MAX_LINE_OCTETS + 1)
  }
  assert.equal(d.bufferedBytes, MAX_LINE_OCTETS + 1)
})

test('MTQP-26: discardBuffered returns and drops the unframed remainder after a pipelined STARTTLS', () => {
  const d = new LineDecoder()
  const out = d.push(Buffer.from('STARTTLS mtqp.example.com\r\nTRACK injected@x.example QUJD'))
  assert.deepStrictEqual(out, [line('STARTTLS mtqp.example.com')])
  assert.deepStrictEqual(d.discardBuffered(), Buffer.from('TRACK injected@x.example QUJD'))
  assert.equal(d.bufferedBytes, 0)
  assert.deepStrictEqual(d.discardBuffered(), Buffer.alloc(0))
  assert.deepStrictEqual(d.push(Buffer.from('QUIT\r\n')), [line('QUIT')])
})

test('discardBuffered also ends the skipping of an overlong line', () => {
  const d = new LineDecoder()
  d.push(Buffer.alloc(5000, 0x41))
  d.discardBuffered()
  assert.deepStrictEqual(d.push(Buffer.from('QUIT\r\n')), [line('QUIT')])
})

test('a smaller maxLineOctets is honoured, and a non-positive one is refused', () => {
  assert.deepStrictEqual(feedThreeWays(decoder(4), 'abcd\r\nabcde\r\nab\n'), [
    line('abcd'),
    { kind: 'overlong', head: 'abcd' },
    line('ab', 'lf'),
  ])
  assert.throws(() => new LineDecoder({ maxLineOctets: 0 }), RangeError)
  assert.throws(() => new LineDecoder({ maxLineOctets: 1.5 }), RangeError)
})

/** A reference framer written the obvious, non-streaming way. */
function reference(input: Buffer, max: number): FramedLine[] {
  const out: FramedLine[] = []
  let start = 0
  for (let lf = input.indexOf(0x0a); lf !== -1; lf = input.indexOf(0x0a, start)) {
    let content = input.subarray(start, lf)
    const crlf = content.length > 0 && content[content.length - 1] === 0x0d
    if (crlf) content = content.subarray(0, -1)
    if (content.length > max) {
      out.push({ kind: 'overlong', head: content.toString('latin1', 0, Math.min(OVERLONG_HEAD_OCTETS, max)) })
    } else {
      const printable = [...content].every((c) => c === 0x09 || (c >= 0x20 && c <= 0x7e))
      out.push({ kind: 'line', line: content.toString('latin1'), printable, eol: crlf ? 'crlf' : 'lf' })
    }
    start = lf + 1
  }
  // An unterminated tail is already known to be overlong once even a final CR could not save it.
  const tail = input.subarray(start)
  if (tail.length > max + 1) {
    out.push({ kind: 'overlong', head: tail.toString('latin1', 0, Math.min(OVERLONG_HEAD_OCTETS, max)) })
  }
  return out
}

// Inputs rich in line endings, so short limits and CR/LF placement get exercised.
const octet = fc.oneof(fc.constantFrom(0x0d, 0x0a, 0x41, 0x20, 0x09), fc.integer({ min: 0, max: 255 }))
const bytesArb = fc.array(octet, { maxLength: 300 }).map((a) => Buffer.from(a))

test('property: arbitrary bytes in arbitrary chunks never throw and frame like the reference framer', () => {
  fc.assert(
    fc.property(bytesArb, fc.array(fc.nat(300)), fc.integer({ min: 1, max: 40 }), (bytes, cuts, max) => {
      const chunked = feed(decoder(max), cutAt(bytes, cuts))
      assert.deepStrictEqual(chunked, reference(bytes, max))
    }),
    { numRuns: 2000 },
  )
})

test('property: the buffer never holds more than maxLineOctets + 1 octets', () => {
  fc.assert(
    fc.property(bytesArb, fc.array(fc.nat(300)), fc.integer({ min: 1, max: 40 }), (bytes, cuts, max) => {
      const d = new LineDecoder({ maxLineOctets: max })
      for (const part of cutAt(bytes, cuts)) {
        d.push(part)
        assert.ok(d.bufferedBytes <= max + 1)
      }
    }),
  )
})
