// Reading a queued message back for a delivery status notification (src/haraka/outbound.ts readQueuedMessage).
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import { readQueuedMessage } from '../../src/haraka/outbound'
import type { HMailItem } from '../../src/haraka/types'

/** A queue file whose message (dot-stuffed, as Haraka stores it) arrives in these chunks. */
function hmail(chunks: string[], fail = false): HMailItem {
  const size = chunks.join('').length
  return {
    data_stream: () => {
      const r = Readable.from(chunks.map((c) => Buffer.from(c)))
      if (!fail) return r
      const broken = new Readable({ read() {} })
      setImmediate(() => broken.emit('error', new Error('ENOENT')))
      return broken
    },
    file_size: 10 + size,
    data_start: 10,
  } as unknown as HMailItem
}

test('the whole message within the limit, dot-stuffing undone', async () => {
  const m = await readQueuedMessage(hmail(['Subject: x\r\n\r\n..dot\r\n', 'body\r\n']), 1000, false)
  // size: octets in the queue file, as stored (dot-stuffed).
  assert.deepEqual(m, { content: 'Subject: x\r\n\r\n.dot\r\nbody\r\n', complete: true, size: 27 })
})

test('over the limit: what fits, marked incomplete (a report then returns the headers)', async () => {
  const m = await readQueuedMessage(hmail(['Subject: x\r\n\r\n', 'a'.repeat(100)]), 20, false)
  assert.equal(m.complete, false)
  assert.equal(m.content.length, 20)
})

test('headers only: stops at the empty line, even when it straddles two chunks', async () => {
  const m = await readQueuedMessage(hmail(['Subject: x\r\n\r', '\nbody\r\n', 'never read\r\n']), 1000, true)
  assert.equal(m.complete, false)
  assert.ok(m.content.startsWith('Subject: x\r\n\r\n'))
  assert.ok(!m.content.includes('never read'))
})

test('an unreadable queue file gives what was read (nothing), never an error', async () => {
  const m = await readQueuedMessage(hmail(['x'], true), 1000, false)
  assert.deepEqual(m, { content: '', complete: false, size: 1 })
})
