// Issue 10 case 7: every promise of the client library settles, with a typed error for an unusable option; nothing
// is left to become an unhandled rejection (the test runner makes any fatal).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  type DnsResolver,
  MIN_INACTIVITY_TIMEOUT_MS,
  MtqpOptionError,
  mtqpQuerier,
  trackMessage,
  trackMessages,
} from '../../src/client/index'

const request = { envid: '1@h.example.com', secret: Buffer.alloc(16) }
const target = { kind: 'server', host: '127.0.0.1', port: 1 } as const

test('trackMessage with a too-small inactivity timeout rejects with MtqpOptionError naming the option', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (e: unknown) => unhandled.push(e)
  process.on('unhandledRejection', onUnhandled)
  try {
    await assert.rejects(trackMessage(target, request, { inactivityTimeoutMs: 10 }), (e: unknown) => {
      assert.ok(e instanceof MtqpOptionError)
      assert.ok(e instanceof RangeError, 'still a RangeError for callers that test for one')
      assert.equal(e.option, 'inactivityTimeoutMs')
      assert.match(e.message, new RegExp(`at least ${MIN_INACTIVITY_TIMEOUT_MS}`))
      return true
    })
    await assert.rejects(
      trackMessages([{ target, request }], { connectTimeoutMs: -1 }),
      (e: unknown) => e instanceof MtqpOptionError && e.option === 'connectTimeoutMs',
    )
    // Let any stray promise surface before looking.
    await new Promise((r) => setTimeout(r, 100))
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

test('mtqpQuerier refuses an unusable option at once, before any query', () => {
  assert.throws(() => mtqpQuerier({ inactivityTimeoutMs: 0 }), MtqpOptionError)
})

test('a query that fails unexpectedly still settles, as a failed result (a Querier never rejects)', async () => {
  const resolver: DnsResolver = {
    resolveSrv: () => Promise.reject(new Error('boom')),
    resolveAddresses: () => {
      throw new Error('resolver exploded')
    },
  }
  const query = mtqpQuerier({ resolver, connectTimeoutMs: 2000 })
  const r = await query({ kind: 'mta', host: 'mx.example.invalid' }, request)
  assert.equal(r.kind, 'failed')
})
