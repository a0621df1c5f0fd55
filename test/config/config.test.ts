import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { applyRedisUrl, parseConfig } from '../../src/config/config'
import { formatEndpoint, parseEndpoint, parseEndpointList } from '../../src/config/listen'
import { hashPassword } from '../../src/web/auth'

test('defaults: 10 days retention (MTRK-9), 30 days maximum, MTQP on [::]:1038 (MTQP-1)', () => {
  const { config, errors } = parseConfig({})
  assert.deepEqual(errors, [])
  assert.equal(config.main.defaultRetention, 864000)
  assert.equal(config.main.maxRetention, 2592000)
  assert.equal(config.main.mtrkWithoutEnvid, 'reject')
  assert.equal(config.main.rejectUnknownParams, true)
  assert.ok(config.main.allowedParams.has('SIZE'))
  assert.deepEqual(config.mtqp.listen, { host: '::', port: 1038 })
  assert.equal(config.redis.prefix, 'mtrk:')
})

test('invalid values are reported by section and key and replaced by their defaults', () => {
  const { config, errors } = parseConfig({
    main: {
      default_retention: 3600,
      max_retention: 'lots',
      mtrk_without_envid: 'maybe',
      reject_unknown_params: 'perhaps',
    },
    redis: { port: 70000, sentinels: 'a:1,b' },
    mtqp: { listen: 'nowhere' },
  })
  assert.equal(config.main.defaultRetention, 864000, 'below the 1-day minimum of MTRK-9')
  assert.equal(config.main.maxRetention, 2592000)
  assert.equal(config.redis.port, 6379)
  assert.equal(config.redis.sentinels, null)
  assert.deepEqual(config.mtqp.listen, { host: '::', port: 1038 })
  for (const key of [
    '[main] default_retention',
    '[main] max_retention',
    '[main] mtrk_without_envid',
    '[main] reject_unknown_params',
    '[redis] port',
    '[redis] sentinels',
    '[mtqp] listen',
  ]) {
    assert.ok(
      errors.some((e) => e.startsWith(key)),
      `${key} in ${errors.join('\n')}`,
    )
  }
})

test('MTRK-8: the default retention may not exceed the maximum', () => {
  const { config, errors } = parseConfig({ main: { max_retention: 86400, default_retention: 172800 } })
  assert.equal(config.main.maxRetention, 86400)
  assert.equal(config.main.defaultRetention, 86400, 'falls back to the maximum')
  assert.match(errors[0] ?? '', /default_retention/)
})

test('values as Haraka hands them over: numbers, booleans, strings', () => {
  const { config, errors } = parseConfig({
    main: {
      allowed_params: 'size, body XCLIENT',
      reject_unknown_params: false,
      mtrk_without_envid: 'IGNORE',
    },
    redis: { password: 1234, db: '3', cluster: '10.0.0.1:7000, [::1]:7001' },
  })
  assert.deepEqual(errors, [])
  assert.deepEqual([...config.main.allowedParams], ['SIZE', 'BODY', 'XCLIENT'])
  assert.equal(config.main.rejectUnknownParams, false)
  assert.equal(config.main.mtrkWithoutEnvid, 'ignore')
  assert.equal(config.redis.password, '1234')
  assert.equal(config.redis.db, 3)
  assert.deepEqual(config.redis.cluster, [
    { host: '10.0.0.1', port: 7000 },
    { host: '::1', port: 7001 },
  ])
})

test('[relay] forward: on by default; off on request; a typo keeps it on and is reported', () => {
  assert.equal(parseConfig({}).config.relay.forward, true)
  assert.equal(
    parseConfig({ relay: { forward: false } }).config.relay.forward,
    false,
    'as Haraka hands a boolean',
  )
  assert.equal(parseConfig({ relay: { forward: 'off' } }).config.relay.forward, false)
  const typo = parseConfig({ relay: { forward: 'nope' } })
  assert.equal(typo.config.relay.forward, true)
  assert.match(typo.errors[0] ?? '', /^\[relay\] forward: must be true or false/)
})

test('[main] final_aliases (MTRK-22): unset by default; *, addresses and @domains read; a bad entry named and left out', () => {
  assert.equal(parseConfig({}).config.main.finalAliases, null)
  const read = parseConfig({
    main: { final_aliases: 'PostMaster@Example.com, @Private.Example webmaster@bücher.de' },
  })
  assert.deepEqual(read.errors, [])
  assert.deepEqual(
    read.config.main.finalAliases,
    new Set(['postmaster@example.com', '@private.example', 'webmaster@bücher.de']),
  )
  assert.deepEqual(parseConfig({ main: { final_aliases: '*' } }).config.main.finalAliases, new Set(['*']))
  const typo = parseConfig({
    main: { final_aliases: 'postmaster@example.com, webmaster@, abuse, a@b@c.example' },
  })
  assert.deepEqual(typo.config.main.finalAliases, new Set(['postmaster@example.com']), 'the others apply')
  assert.deepEqual(typo.errors, [
    '[main] final_aliases: ignored "webmaster@", "abuse", "a@b@c.example": each entry must be an address ' +
      '(user@domain), a domain (@domain) or *; the others apply',
  ])
  const none = parseConfig({ main: { final_aliases: 'postmaster' } })
  assert.equal(none.config.main.finalAliases, null)
  assert.deepEqual(none.errors, [
    '[main] final_aliases: must be `*`, or addresses (user@domain) and domains (@domain), comma separated, ' +
      'got "postmaster"; left unset',
  ])
})

test('MTRK_REDIS_URL overrides the endpoint', () => {
  const { redis } = parseConfig({ redis: { host: 'far.example', sentinels: 'a:1' } }).config
  const r = applyRedisUrl(redis, 'redis://:s%40cret@127.0.0.1:6390/2')
  assert.equal(r.error, undefined)
  assert.equal(r.redis.host, '127.0.0.1')
  assert.equal(r.redis.port, 6390)
  assert.equal(r.redis.db, 2)
  assert.equal(r.redis.password, 's@cret')
  assert.equal(r.redis.sentinels, null)
  assert.match(applyRedisUrl(redis, 'http://x/').error ?? '', /MTRK_REDIS_URL/)
  const leaky = applyRedisUrl(redis, 'http://user:s3cret@x/').error ?? ''
  assert.match(leaky, /http:\/\/\*\*\*@x\//)
  assert.doesNotMatch(leaky, /s3cret/, 'no password in a log line')
  assert.match(applyRedisUrl(redis, 'not a url').error ?? '', /MTRK_REDIS_URL/)
  assert.equal(applyRedisUrl(redis, undefined).redis, redis)
})

test('endpoints: host:port and [v6]:port, ports 1..65535', () => {
  assert.deepEqual(parseEndpoint('[::]:1038'), { host: '::', port: 1038 })
  assert.deepEqual(parseEndpoint('mx.example:25'), { host: 'mx.example', port: 25 })
  for (const bad of ['', 'host', 'host:0', 'host:65536', '::1:25', '[x]:1', 'a b:1']) {
    assert.equal(parseEndpoint(bad), null, bad)
  }
  assert.equal(parseEndpointList('a:1,b'), null)
  assert.equal(parseEndpointList(' , '), null)
  fc.assert(
    fc.property(
      fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()),
      fc.integer({ min: 1, max: 65535 }),
      (host, port) => {
        assert.deepEqual(parseEndpoint(formatEndpoint({ host, port })), { host, port })
      },
    ),
  )
})

test('parseConfig never throws, whatever the ini holds', () => {
  const value = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.double())
  fc.assert(
    fc.property(
      fc.dictionary(
        fc.constantFrom('main', 'redis', 'mtqp', 'relay', 'x'),
        fc.dictionary(fc.string(), value),
      ),
      (ini) => {
        parseConfig(ini)
      },
    ),
  )
})

test('[mtqp] defaults: 10-minute inactivity timer (MTQP-28), STARTTLS on, TLS 1.2 minimum (RFC 8996)', () => {
  const { config, errors } = parseConfig({})
  assert.deepEqual(errors, [])
  assert.deepEqual(config.mtqp, {
    enabled: true,
    listen: { host: '::', port: 1038 },
    suspended: false,
    inactivityTimeoutMs: 600_000,
    maxConnections: 100,
    maxConnectionsPerIp: 10,
    maxBadCommands: 10,
    failedTrackLimit: 20,
    failedTrackWindow: 3600,
    starttls: 'on',
    minTlsVersion: 'TLSv1.2',
    adequateTlsVersion: 'TLSv1.2',
    insecureTls: 'refuse',
    allowSingleLabelFqdn: false,
    testInactivityTimeoutMs: null,
    noinfoDelayMs: 250,
    chaining: false,
    chainTimeoutMs: 100_000,
    chainMaxHops: 5,
    chainPublicName: null,
    chainCaFile: null,
    chainDnsServers: null,
    failedTrackGlobalLimit: 600,
    failedTrackProxies: [],
    slotIdleTimeoutMs: 10_000,
  })
})

test('[mtqp] every option is read, as Haraka hands values over', () => {
  const { config, errors } = parseConfig({
    mtqp: {
      enabled: false,
      listen: '127.0.0.1:11038',
      suspended: true,
      inactivity_timeout: '900',
      max_connections: 5,
      max_connections_per_ip: '2',
      max_bad_commands: 3,
      failed_track_limit: 0,
      failed_track_window: 60,
      starttls: 'REQUIRED',
      min_tls_version: 'tlsv1.3',
      adequate_tls_version: 'TLSv1.3',
      insecure_tls: 'close',
      allow_single_label_fqdn: true,
      noinfo_delay: '0',
      chaining: true,
      chain_timeout: '2',
      chain_max_hops: 3,
      chain_public_name: 'gw.example.com',
      chain_ca: '/etc/mtqp/inner-ca.pem',
      chain_dns_servers: '10.0.0.53, 127.0.0.1:5353 [::1]:53 2001:db8::53',
      failed_track_global_limit: '0',
      failed_track_proxies: '192.0.2.7, 2001:db8::7',
      slot_idle_timeout: 3,
    },
  })
  assert.deepEqual(errors, [])
  assert.deepEqual(config.mtqp, {
    enabled: false,
    listen: { host: '127.0.0.1', port: 11038 },
    suspended: true,
    inactivityTimeoutMs: 900_000,
    maxConnections: 5,
    maxConnectionsPerIp: 2,
    maxBadCommands: 3,
    failedTrackLimit: 0,
    failedTrackWindow: 60,
    starttls: 'required',
    minTlsVersion: 'TLSv1.3',
    adequateTlsVersion: 'TLSv1.3',
    insecureTls: 'close',
    allowSingleLabelFqdn: true,
    testInactivityTimeoutMs: null,
    noinfoDelayMs: 0,
    chaining: true,
    chainTimeoutMs: 2000,
    chainMaxHops: 3,
    chainPublicName: 'gw.example.com',
    chainCaFile: '/etc/mtqp/inner-ca.pem',
    chainDnsServers: ['10.0.0.53', '127.0.0.1:5353', '[::1]:53', '2001:db8::53'],
    failedTrackGlobalLimit: 0,
    failedTrackProxies: ['192.0.2.7', '2001:db8::7'],
    slotIdleTimeoutMs: 3000,
  })
})

test('MTQP-31: chain_timeout stays within the 2-minute answer limit; chaining options are checked', () => {
  const { config, errors } = parseConfig({
    mtqp: {
      chaining: 'sometimes',
      chain_timeout: 120,
      chain_max_hops: 0,
      chain_public_name: 'gateway',
      chain_dns_servers: 'dns.example.com:53',
    },
  })
  assert.equal(config.mtqp.chaining, false)
  assert.equal(config.mtqp.chainTimeoutMs, 100_000, 'at most 115 s, leaving room to answer within 2 minutes')
  assert.equal(config.mtqp.chainMaxHops, 5)
  assert.equal(config.mtqp.chainPublicName, null, 'a public name must be fully qualified')
  assert.equal(config.mtqp.chainDnsServers, null, 'name servers are IP addresses')
  for (const key of [
    'chaining',
    'chain_timeout',
    'chain_max_hops',
    'chain_public_name',
    'chain_dns_servers',
  ]) {
    assert.ok(
      errors.some((e) => e.startsWith(`[mtqp] ${key}:`)),
      `${key} in ${errors.join('\n')}`,
    )
  }
  assert.equal(parseConfig({ mtqp: { chain_timeout: 115 } }).config.mtqp.chainTimeoutMs, 115_000)
})

test('MTQP-28: inactivity_timeout below 10 minutes is refused; only test_inactivity_timeout_ms goes lower', () => {
  const low = parseConfig({ mtqp: { inactivity_timeout: 599 } })
  assert.equal(low.config.mtqp.inactivityTimeoutMs, 600_000)
  assert.match(low.errors[0] ?? '', /^\[mtqp\] inactivity_timeout: must be an integer from 600/)
  const short = parseConfig({ mtqp: { inactivity_timeout: 700, test_inactivity_timeout_ms: 150 } })
  assert.deepEqual(short.errors, [])
  assert.equal(short.config.mtqp.inactivityTimeoutMs, 150)
})

test('[mtqp] bad values are reported by key and replaced by their defaults', () => {
  const { config, errors } = parseConfig({
    mtqp: {
      suspended: 'perhaps',
      max_connections: 0,
      max_connections_per_ip: -1,
      max_bad_commands: 'many',
      failed_track_limit: 1.5,
      failed_track_window: 0,
      starttls: 'maybe',
      min_tls_version: 'TLSv1.1',
      insecure_tls: 'ignore',
      test_inactivity_timeout_ms: 0,
      allow_single_label_fqdn: 'sometimes',
    },
  })
  assert.equal(config.mtqp.starttls, 'on')
  assert.equal(config.mtqp.minTlsVersion, 'TLSv1.2', 'RFC 8996: TLS 1.0 and 1.1 are never accepted')
  assert.equal(config.mtqp.inactivityTimeoutMs, 600_000)
  for (const key of [
    'suspended',
    'max_connections',
    'max_connections_per_ip',
    'max_bad_commands',
    'failed_track_limit',
    'failed_track_window',
    'starttls',
    'min_tls_version',
    'insecure_tls',
    'test_inactivity_timeout_ms',
    'allow_single_label_fqdn',
  ]) {
    assert.ok(
      errors.some((e) => e.startsWith(`[mtqp] ${key}:`)),
      `${key} in ${errors.join('\n')}`,
    )
  }
})

test('[mtqp] failed_track_proxies: by default the address the tracking page asks its own listener from', () => {
  const proxies = (ini: Parameters<typeof parseConfig>[0]) => parseConfig(ini).config.mtqp.failedTrackProxies
  assert.deepEqual(proxies({}), [], 'no page')
  assert.deepEqual(proxies({ web: { enabled: 'true' } }), ['::1'], 'the default listener on [::]')
  assert.deepEqual(proxies({ web: { enabled: 'true' }, mtqp: { listen: '0.0.0.0:1038' } }), ['127.0.0.1'])
  assert.deepEqual(proxies({ web: { enabled: 'true' }, mtqp: { listen: '192.0.2.1:1038' } }), ['192.0.2.1'])
  assert.deepEqual(
    proxies({ web: { enabled: 'true', server: 'mtqp.example.com:1038' } }),
    [],
    'the page asks another server, or this one by a name: the operator lists its address',
  )
  assert.deepEqual(proxies({ web: { enabled: 'true' }, mtqp: { failed_track_proxies: 'none' } }), [])
  assert.deepEqual(proxies({ mtqp: { failed_track_proxies: '::1 127.0.0.1' } }), ['::1', '127.0.0.1'])
  const bad = parseConfig({
    web: { enabled: 'true' },
    mtqp: { failed_track_proxies: '127.0.0.1, localhost' },
  })
  assert.deepEqual(
    bad.config.mtqp.failedTrackProxies,
    ['::1'],
    'a value that cannot be read: the default, as always',
  )
  assert.match(
    bad.errors[0] ?? '',
    /^\[mtqp\] failed_track_proxies: must be IP addresses, comma separated, or none/,
  )
})

test('MTQP-25: adequate_tls_version cannot be below min_tls_version', () => {
  const { config, errors } = parseConfig({
    mtqp: { min_tls_version: 'TLSv1.3', adequate_tls_version: 'TLSv1.2' },
  })
  assert.equal(config.mtqp.adequateTlsVersion, 'TLSv1.3')
  assert.match(
    errors[0] ?? '',
    /^\[mtqp\] adequate_tls_version: TLSv1.2 is below min_tls_version; using TLSv1.3$/,
  )
})

test('[dsn] defaults, every option as Haraka hands it over, bad values reported by key (issue 9)', () => {
  assert.deepEqual(parseConfig({}).config.dsn, {
    enabled: true,
    delayReportAfter: 14400,
    delayReportInterval: 86400,
    coalesceMs: 2000,
    maxReturnSize: 1048576,
    returnWithoutRet: 'headers',
    successDelayReports: 'all',
  })
  const set = parseConfig({
    dsn: {
      enabled: false,
      delay_report_after: 0,
      delay_report_interval: '3600',
      coalesce_ms: 500,
      max_return_size: 0,
      return_without_ret: 'FULL',
      success_delay_reports: 'relay_clients',
    },
  })
  assert.deepEqual(set.errors, [])
  assert.deepEqual(set.config.dsn, {
    enabled: false,
    delayReportAfter: 0,
    delayReportInterval: 3600,
    coalesceMs: 500,
    maxReturnSize: 0,
    returnWithoutRet: 'full',
    successDelayReports: 'relay_clients',
  })
  const bad = parseConfig({
    dsn: { enabled: 'perhaps', coalesce_ms: 60000, delay_report_interval: 1, success_delay_reports: 'none' },
  })
  assert.equal(bad.config.dsn.enabled, true)
  assert.equal(
    bad.config.dsn.coalesceMs,
    2000,
    "a bounce hook waits this long: below Haraka's plugin_timeout",
  )
  assert.equal(bad.errors.length, 4)
  assert.ok(bad.errors.every((e) => e.startsWith('[dsn] ')))
})

test('[journal]: defaults, every option read, bad values reported by key', () => {
  assert.deepEqual(parseConfig({}).config.journal, {
    dir: null,
    maxBytes: 1024 * 1024 * 1024,
    fsyncMs: 1000,
    replayBatch: 100,
    replayPauseMs: 10,
  })
  const set = parseConfig({
    journal: {
      dir: '/var/spool/mtrk',
      max_size: '64',
      fsync_interval: 200,
      replay_batch: 10,
      replay_pause: '0',
    },
  })
  assert.deepEqual(set.errors, [])
  assert.deepEqual(set.config.journal, {
    dir: '/var/spool/mtrk',
    maxBytes: 64 * 1024 * 1024,
    fsyncMs: 200,
    replayBatch: 10,
    replayPauseMs: 0,
  })
  const bad = parseConfig({ journal: { max_size: 0, replay_batch: 'many' } })
  assert.equal(bad.errors.length, 2)
  assert.match(bad.errors[0]!, /\[journal\] max_size/)
  assert.equal(bad.config.journal.replayBatch, 100)
})

test('[web] operator_password_hash: a malformed hash is named by section and key with the form it takes, and left unset', async () => {
  const good = await hashPassword('secret', Buffer.alloc(16, 7))
  assert.equal(parseConfig({ web: { operator_password_hash: good } }).config.web.operatorPasswordHash, good)
  const shortSalt = `scrypt$${Buffer.alloc(4).toString('base64')}$${Buffer.alloc(32).toString('base64')}`
  for (const bad of ['plain', 'scrypt$$', 'scrypt$not base64$AAAA', shortSalt]) {
    const { config, errors } = parseConfig({ web: { operator_password_hash: bad } })
    assert.equal(config.web.operatorPasswordHash, null, bad)
    assert.deepEqual(errors, [
      `[web] operator_password_hash: must be scrypt$<salt base64>$<hash base64> (a salt of at least 8 octets, a hash of at least 16), got ${JSON.stringify(bad)}; the operator page refuses everyone until it is fixed`,
    ])
  }
})
