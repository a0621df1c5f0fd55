// The option table read against whatever an administrator may write: every unreadable value, unknown option and
// unknown section is reported by section and key, and an unreadable value keeps the option's default.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { parseConfig } from '../../src/config/config'
import { bool, int, recipientMatches, recipients } from '../../src/config/kinds'
import { iniKey, OPTIONS, type Option } from '../../src/config/options'
import { closest, editDistance } from '../../src/config/suggest'

const rows = Object.entries(OPTIONS).flatMap(([section, s]) =>
  Object.entries(s.options).map(([field, option]) => ({
    section,
    field,
    key: iniKey(field, option as Option<unknown, unknown>),
    option: option as Option<unknown, unknown>,
  })),
)
/** Options whose kind refuses some text (free-text options take anything). */
const checked = rows.filter((r) => r.option.kind.parse('\u0000 not a value') === undefined)

const text = fc.oneof(
  fc.string(),
  fc.integer().map(String),
  fc.double().map(String),
  fc.constantFrom('tru', 'maybe', 'yes!', 'TLSv1.1', 'host', 'a:1,b', '[::1]', '0x10', '1e3', '-0', 'on off'),
)

test('any value its kind cannot read is reported by section and key, and the default is kept', () => {
  fc.assert(
    fc.property(fc.constantFrom(...checked), text, ({ section, field, key, option }, value) => {
      fc.pre(value.trim() !== '' && option.kind.parse(value.trim()) === undefined)
      const { config, errors } = parseConfig({ [section]: { [key]: value } })
      const line = `[${section}] ${key}: must be ${option.kind.expected}, got ${JSON.stringify(value)}; `
      assert.ok(
        errors.some((e) => e.startsWith(line)),
        `${line} in ${errors.join('\n')}`,
      )
      const values = config[section as keyof typeof config] as Record<string, unknown>
      assert.deepEqual(values[field], parseConfig({}).config[section as keyof typeof config][field as never])
    }),
    { numRuns: 2000 },
  )
})

test('every default written back as text reads as itself', () => {
  for (const { key, option } of rows) {
    if (option.default === null) continue
    assert.deepEqual(option.kind.parse(option.kind.format(option.default)), option.default, key)
  }
})

test('integers: outside [min, max] refused, inside read and scaled', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1000, max: 1000 }),
      fc.nat(1000),
      fc.integer({ min: -5000, max: 5000 }),
      fc.constantFrom(1, 1000),
      (min, span, n, scale) => {
        const kind = int(min, min + span, scale)
        const got = kind.parse(String(n))
        if (n < min || n > min + span) assert.equal(got, undefined)
        else {
          assert.equal(got, n * scale)
          assert.equal(kind.format(n * scale), String(n))
        }
      },
    ),
  )
  assert.equal(int(0, 10).parse('1.5'), undefined)
  assert.equal(int(0, 10).parse('5 s'), undefined)
})

test("true/false: Haraka's words either way, anything else refused rather than read as false", () => {
  for (const t of ['true', 'Yes', 'ON', '1', 'ok', 'enabled']) assert.equal(bool.parse(t), true, t)
  for (const f of ['false', 'No', 'OFF', '0', 'disabled']) assert.equal(bool.parse(f), false, f)
  for (const bad of ['tru', 'maybe', 'flase', '2', 'y']) assert.equal(bool.parse(bad), undefined, bad)
})

test('recipients: good entries read whatever bad ones sit among them, which are named; matching ignores case', () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/)
  // A numeric last label would make the name an IPv4 address to the WHATWG host parser.
  const domain = fc
    .tuple(fc.array(label, { maxLength: 2 }), fc.stringMatching(/^[a-z]{2,6}$/))
    .map(([ls, tld]) => [...ls, tld].join('.'))
  const local = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,12}$/)
  const good = fc.oneof(
    fc.constant('*'),
    domain.map((d) => `@${d.toUpperCase()}`),
    fc.tuple(local, domain).map(([l, d]) => `${l}@${d}`),
  )
  const bad = fc.oneof(
    local.filter((l) => l !== '*'),
    local.map((l) => `${l}@`),
    fc.tuple(local, domain).map(([l, d]) => `${l}@${d}@${d}`),
    domain.map((d) => `x@${d}..`),
  )
  const mixed = fc
    .tuple(fc.array(good, { minLength: 1, maxLength: 5 }), fc.array(bad, { maxLength: 3 }))
    .chain(([gs, bs]) =>
      fc
        .shuffledSubarray([...gs, ...bs], { minLength: gs.length + bs.length })
        .map((all) => ({ gs, bs, all })),
    )
  fc.assert(
    fc.property(mixed, ({ gs, bs, all }) => {
      const set = recipients.parse(all.join(', '))
      assert.deepEqual(set, new Set(gs.map((g) => g.toLowerCase())))
      assert.deepEqual(recipients.entries?.unreadable(all.join(' ')).sort(), [...bs].sort())
      assert.deepEqual(
        recipients.parse(recipients.format(set ?? new Set())),
        set,
        'written back, reads as itself',
      )
      for (const g of gs) {
        const key =
          g === '*' ? 'anyone@any.where' : g.startsWith('@') ? `Someone${g.toLowerCase()}` : g.toUpperCase()
        assert.ok(set && recipientMatches(set, key), `${g} matches ${key}`)
      }
    }),
  )
  assert.equal(recipients.parse('abuse, x@'), undefined, 'nothing readable: the value is unreadable')
  assert.equal(recipientMatches(new Set(['@a.test']), 'u@b.a.test'), false)
})

test('reject_unknown_params=tru and [mtqp] enabled=maybe keep their defaults (on) and say so', () => {
  const { config, errors } = parseConfig({
    main: { reject_unknown_params: 'tru' },
    mtqp: { enabled: 'maybe' },
  })
  assert.equal(config.main.rejectUnknownParams, true)
  assert.equal(config.mtqp.enabled, true)
  assert.deepEqual(errors, [
    '[main] reject_unknown_params: must be true or false, got "tru"; using true',
    '[mtqp] enabled: must be true or false, got "maybe"; using true',
  ])
})

test('an unreadable listen keeps the MTQP listener off instead of putting it on every interface', () => {
  for (const listen of ['127.0.0.1', '127.0.0.1:70000', '[::1:1038', 'every interface']) {
    const { config, errors } = parseConfig({ mtqp: { listen } })
    assert.equal(config.mtqp.enabled, false, listen)
    assert.deepEqual(errors, [
      `[mtqp] listen: must be host:port or [v6]:port, got ${JSON.stringify(listen)}; the MTQP listener stays off`,
    ])
  }
  assert.equal(parseConfig({ mtqp: { listen: '127.0.0.1:11038' } }).config.mtqp.enabled, true)
})

test('unknown options and sections are reported, with the likely spelling when there is one', () => {
  const { config, errors } = parseConfig({
    main: { listen: '127.0.0.1:1038', xyzzy: '1', chainig: 'true' },
    mtqp: { listn: '127.0.0.1:11038', Enabled: 'false' },
    mtpq: { enabled: 'false' },
    tracking: {},
  })
  assert.deepEqual(errors, [
    '[main] listen: unknown option, ignored (it belongs in [mtqp])',
    '[main] xyzzy: unknown option, ignored',
    '[main] chainig: unknown option, ignored (did you mean [mtqp] chaining?)',
    '[mtqp] listn: unknown option, ignored (did you mean listen?)',
    '[mtqp] Enabled: unknown option, ignored (did you mean enabled?)',
    '[mtpq]: unknown section, ignored (did you mean [mtqp]?)',
    '[tracking]: unknown section, ignored',
  ])
  assert.deepEqual(config, parseConfig({}).config, 'nothing unknown changes anything')
})

test('empty values and keys without a value leave the default, without a complaint', () => {
  const { config, errors } = parseConfig({
    main: { history_limit: '', reporting_mta: '  ' },
    mtqp: { listen: null },
  })
  assert.deepEqual(errors, [])
  assert.deepEqual(config, parseConfig({}).config)
})

test('a key[]= list where one value is expected is reported', () => {
  const { config, errors } = parseConfig({ redis: { port: ['6379', '6380'] } })
  assert.equal(config.redis.port, 6379)
  assert.deepEqual(errors, [
    '[redis] port: must be an integer from 1 to 65535, got a list (key[]=); using 6379',
  ])
})

test('an unreadable adequate_tls_version follows min_tls_version, as when unset', () => {
  const { config, errors } = parseConfig({
    mtqp: { min_tls_version: 'TLSv1.3', adequate_tls_version: 'TLSv1.1' },
  })
  assert.equal(config.mtqp.adequateTlsVersion, 'TLSv1.3')
  assert.deepEqual(errors, [
    '[mtqp] adequate_tls_version: must be one of TLSv1.2, TLSv1.3, got "TLSv1.1"; using min_tls_version',
  ])
})

test('[redis] database is read when db is absent', () => {
  assert.equal(parseConfig({ redis: { database: 4 } }).config.redis.db, 4)
  assert.equal(parseConfig({ redis: { database: 4, db: 2 } }).config.redis.db, 2)
})

test('edit distance: a metric-like count where a swap of neighbours is one edit', () => {
  assert.equal(editDistance('listn', 'listen'), 1)
  assert.equal(editDistance('enalbed', 'enabled'), 1)
  assert.equal(closest('db', ['port', 'host']), undefined, 'short words match nothing far')
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
      const d = editDistance(a, b)
      assert.equal(d, editDistance(b, a))
      assert.equal(d === 0, a === b)
      assert.ok(d <= Math.max(a.length, b.length))
    }),
  )
})
