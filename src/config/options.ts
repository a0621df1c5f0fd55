// Every option of config/mtrk.ini, once: ini key, kind of value, default, allowed values and meaning. This table drives
// parsing and validation (./read, ./config), the shipped config/mtrk.ini and README's option tables (./docs, written by
// `npm run config:docs`; test/config/docs.test.ts fails when they disagree with it). Adding an option is one row: its
// typed field appears in MtrkConfig. Pure.
import {
  bool,
  dnsServers,
  endpoint,
  endpoints,
  esmtpKeywords,
  fqdn,
  int,
  ipAddresses,
  type Kind,
  oneOf,
  passwordHash,
  recipients,
  text,
  urlPath,
} from './kinds'

/** One option; T is the kind's value type, D the default's (null: unset, which `doc` says the meaning of). */
export interface Option<T, D> {
  readonly kind: Kind<T>
  readonly default: D
  /** One line: what it does, its unit, the RFC section behind it. */
  readonly doc: string
  /** The ini key, when not the field name in snake_case. */
  readonly key?: string
  /** Other ini keys read when this one is absent. */
  readonly aliases?: readonly string[]
  /** README's default column, when the effective default is another option's value or comes from Haraka. */
  readonly defaultText?: string
  /** What happens when the value cannot be read, when it is not "the default applies". */
  readonly whenInvalid?: string
}

type Extra = Pick<Option<unknown, unknown>, 'key' | 'aliases' | 'defaultText' | 'whenInvalid'>

/** A row of the table: `def` is a value of `kind`, or null for an option unset by default. */
export function opt<T, D extends T | null>(
  kind: Kind<T>,
  def: D,
  doc: string,
  extra: Extra = {},
): Option<T, D> {
  return { kind, default: def, doc, ...extra }
}

export interface Section {
  /** A paragraph shown under the section's heading in README and the shipped ini. */
  readonly note: string
  readonly options: Readonly<Record<string, Option<unknown, unknown>>>
}

export type ValueOf<O> = O extends Option<infer T, infer D> ? T | D : never
export type SectionValues<S extends Section> = { [F in keyof S['options']]: ValueOf<S['options'][F]> }

const DAY = 86400

/** RFC 8996: TLS 1.0 and 1.1 are not allowed, so these are the only choices. */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const

/** MTQP-28 (RFC 3887 §2.5): an inactivity timer, if any, is at least 10 minutes. */
const MIN_INACTIVITY_TIMEOUT = 600

/**
 * MTQP-31: a chaining server answers within 2 minutes. The chain gets at most 115 s of them, leaving time for the
 * store look-up and the answer itself.
 */
const MAX_CHAIN_TIMEOUT = 115

export const OPTIONS = {
  main: {
    note: 'What the SMTP side accepts and records.',
    options: {
      defaultRetention: opt(
        int(DAY, 999999999),
        10 * DAY,
        'seconds tracking data is kept when MTRK has no timeout (RFC 3885 §3.1: 8 to 10 days recommended); at most `max_retention`',
      ),
      maxRetention: opt(
        int(DAY, 999999999),
        30 * DAY,
        'upper bound, in seconds, on the timeout a sender may ask for (`MTRK=<hash>:<timeout>`); longer requests are silently cut to it. A lower value applies to new messages; `mtrk-trace retention` applies it to those already stored (RFC 3885 §4.1)',
      ),
      mtrkWithoutEnvid: opt(
        oneOf(['reject', 'ignore'] as const),
        'reject',
        'MTRK without a `local@host` ENVID (RFC 3885 §3.2): `reject` answers 501 5.5.4, `ignore` accepts the message untracked',
      ),
      rejectUnknownParams: opt(
        bool,
        true,
        'answer 555 5.5.4 to MAIL FROM / RCPT TO parameters that neither this plugin nor `allowed_params` knows (RFC 5321 §4.1.1.11)',
      ),
      allowedParams: opt(
        esmtpKeywords,
        new Set([
          'SIZE',
          'BODY',
          'SMTPUTF8',
          'AUTH',
          'REQUIRETLS',
          'MT-PRIORITY',
          'RRVS',
        ]) as ReadonlySet<string>,
        'parameters of other extensions that pass untouched',
      ),
      reportingMta: opt(
        text('a host name'),
        null,
        'the name this relay gives as Reporting-MTA in tracking answers',
        { defaultText: "Haraka's `me`" },
      ),
      historyLimit: opt(int(1, 1000), 20, 'delivery attempts kept per recipient, for administrators'),
      queuedGrace: opt(
        int(0, 365 * DAY),
        DAY,
        "seconds tracking data outlives the outbound queue's give-up time while a message is still queued (RFC 3885 §3.1)",
      ),
      finalAliases: opt(
        recipients,
        null,
        "received recipients whose alias to one address (Haraka's `aliases` plugin) is final delivery here (RFC 3885 §4.2, RFC 3886 §4.2): the recipient is answered `delivered` over MTQP and by DSN, and the address it leads to gets no MTRK, ENVID, NOTIFY or ORCPT, so tracking cannot follow it and no report names it; `*`: every such alias; unset: each is an ordinary hop, tracked through to where it leads",
      ),
    },
  },
  redis: {
    note:
      'Where tracking data is kept. Every relay of one mail system should use the same Redis, so that any relay can ' +
      'answer for every message the system accepted (RFC 3887 §2.1). The environment variable ' +
      '`MTRK_REDIS_URL=redis://[user:password@]host:port/db` overrides the endpoint (`npm start` uses it when its ' +
      'private Redis cannot take the configured port).',
    options: {
      host: opt(text('a host name or IP address'), '127.0.0.1', 'the Redis server'),
      port: opt(int(1, 65535), 6379, "the Redis server's port"),
      db: opt(int(0, 1000), 0, "database number (`database` is accepted too, as in Haraka's `redis.ini`)", {
        aliases: ['database'],
      }),
      username: opt(text('text'), null, 'Redis ACL user name'),
      password: opt(text('text'), null, 'Redis password'),
      socket: opt(text('a file path'), null, 'a unix socket path; when set, `host` and `port` are not used'),
      prefix: opt(text('text'), 'mtrk:', 'prefix of every key this plugin writes'),
      sentinels: opt(
        endpoints,
        null,
        'Redis Sentinel endpoints; when set, the master named `sentinel_name` is used',
      ),
      sentinelName: opt(text('text'), 'mymaster', 'the master the Sentinels monitor'),
      cluster: opt(endpoints, null, 'Redis Cluster seed nodes; when set, a cluster client is used'),
      connectTimeout: opt(int(50, 60000), 2000, 'milliseconds to connect'),
      commandTimeout: opt(
        int(10, 60000),
        500,
        'milliseconds before a Redis command is abandoned: mail never waits longer for Redis, and never waits for writes',
      ),
    },
  },
  mtqp: {
    note:
      'The Message Tracking Query Protocol listener (RFC 3887), run inside Haraka: in the only process, or in the ' +
      'cluster master. Changes apply when config/mtrk.ini is reloaded: turning it on, or fixing a `listen` that could ' +
      'not be read, starts it; turning it off stops it; other changes restart it. Each start and stop is logged.',
    options: {
      enabled: opt(bool, true, 'run the MTQP listener'),
      listen: opt(
        endpoint,
        { host: '::', port: 1038 },
        'where the listener listens; RFC 3887 assigns port 1038',
        {
          whenInvalid: 'the MTQP listener stays off',
        },
      ),
      suspended: opt(
        bool,
        false,
        'keep listening, but greet every client `-TEMP/MTQP/admin` (down for maintenance)',
      ),
      inactivityTimeoutMs: opt(
        int(MIN_INACTIVITY_TIMEOUT, DAY, 1000),
        MIN_INACTIVITY_TIMEOUT * 1000,
        'seconds of client silence before the server hangs up (RFC 3887 §2.5: at least 600)',
        { key: 'inactivity_timeout' },
      ),
      maxConnections: opt(
        int(1, 100000),
        100,
        'concurrent connections; beyond, clients are greeted `-TEMP/MTQP/unavailable/too-many-connections`',
      ),
      maxConnectionsPerIp: opt(
        int(1, 100000),
        10,
        'concurrent connections from one client address (an IPv6 /64 counts as one address)',
      ),
      maxBadCommands: opt(int(1, 1000), 10, '`-BAD` replies one connection may collect before it is closed'),
      failedTrackLimit: opt(
        int(0, 1000000),
        20,
        'TRACKs answered `-ERR/noinfo` per client address (IPv6: per /64) and window before TRACK gets `-TEMP/too-many-failures`; counted in Redis, shared by every relay; 0: no limit',
      ),
      failedTrackWindow: opt(int(1, 7 * DAY), 3600, 'seconds of the `failed_track_limit` window'),
      failedTrackGlobalLimit: opt(
        int(0, 1000000),
        600,
        'failed TRACKs of all clients together per minute, counted in Redis across every relay, before TRACK gets `-TEMP/too-many-failures`; 0: no ceiling',
      ),
      failedTrackProxies: opt(
        ipAddresses,
        [],
        "client addresses that ask for other people and hold each one to `failed_track_limit` themselves (the tracking pages of this mail system's relays): their failed TRACKs count only toward `failed_track_global_limit`, their connections not toward `max_connections_per_ip`; `none`: no such client",
        {
          defaultText:
            "with `[web] enabled` and `[web] server` unset, the address this relay's tracking page asks its listener from (`::1` for the default listener on `[::]`, `127.0.0.1` on `0.0.0.0`, else the listener's own address); otherwise none",
        },
      ),
      slotIdleTimeoutMs: opt(
        int(1, MIN_INACTIVITY_TIMEOUT, 1000),
        10_000,
        'seconds without a complete command after which a connection gives up its slot to a newcomer when all `max_connections` are taken (oldest idle first)',
        { key: 'slot_idle_timeout' },
      ),
      starttls: opt(
        oneOf(['off', 'on', 'required'] as const),
        'on',
        "STARTTLS with Haraka's certificate: `off`; `on` (offered when a certificate is installed); `required` (TRACK before TLS gets `-ERR/tls-required`)",
      ),
      minTlsVersion: opt(
        oneOf(TLS_VERSIONS),
        'TLSv1.2',
        'lowest TLS version the handshake accepts (RFC 8996 forbids older ones)',
      ),
      adequateTlsVersion: opt(
        oneOf(TLS_VERSIONS),
        'TLSv1.2',
        'lowest TLS version deemed adequate, not below `min_tls_version`; a session below it is handled as `insecure_tls` says',
        { defaultText: '`min_tls_version`' },
      ),
      insecureTls: opt(
        oneOf(['refuse', 'close'] as const),
        'refuse',
        'an inadequate TLS session (RFC 3887 §6): `refuse` answers every command but QUIT `-ERR/insecure`, `close` greets `-ERR/MTQP/insecure` and hangs up',
      ),
      allowSingleLabelFqdn: opt(bool, false, 'test set-ups only: accept `STARTTLS host` without a dot'),
      testInactivityTimeoutMs: opt(
        int(1, MIN_INACTIVITY_TIMEOUT * 1000),
        null,
        "test set-ups only: an inactivity timer below the RFC's 10 minutes, in milliseconds (logged as a warning)",
      ),
      noinfoDelayMs: opt(
        int(0, 10000),
        250,
        'milliseconds after a TRACK arrives before `-ERR/noinfo` is sent, so an unknown envid and a wrong secret take the same time (RFC 3887 §11)',
        { key: 'noinfo_delay' },
      ),
      chaining: opt(
        bool,
        false,
        'chaining gateway (RFC 3887 §2.4): ask the next relays of `transferred` recipients and add their reports to the answer',
      ),
      chainTimeoutMs: opt(
        int(1, MAX_CHAIN_TIMEOUT, 1000),
        100_000,
        "seconds the next relays may take before the answer goes out with this relay's report only (RFC 3887: answer within 2 minutes)",
        { key: 'chain_timeout' },
      ),
      chainMaxHops: opt(int(1, 20), 5, 'relays asked at most along one path beyond this one'),
      chainPublicName: opt(
        fqdn,
        null,
        "a public name shown instead of this relay's name and every relay name learned by chaining; unset: names as they are",
      ),
      chainCaFile: opt(
        text('a file path'),
        null,
        "PEM file of the authorities trusted for the next relays' certificates; unset: the system's",
        { key: 'chain_ca' },
      ),
      chainDnsServers: opt(
        dnsServers,
        null,
        "name servers for finding the next relays, e.g. the inner DNS behind a firewall; unset: the system's",
      ),
    },
  },
  relay: {
    note: "Messages Haraka's outbound queue relays to next hops.",
    options: {
      forward: opt(
        bool,
        true,
        'pass MTRK, ENVID, RET, NOTIFY and ORCPT on to next hops that advertise MTRK or DSN (RFC 3885 §3.3, RFC 3461 §5.2); `false`: none is sent, and relayed recipients are reported `relayed`, never `transferred`',
      ),
    },
  },
  dsn: {
    note: 'Delivery status notifications (RFC 3461 §5-6, RFC 3464). The relay advertises DSN, so it sends the reports senders ask for with NOTIFY, and its reports replace Haraka\'s own bounces for every message. See README "Delivery status notifications".',
    options: {
      enabled: opt(
        bool,
        true,
        "send our delivery status notifications in place of Haraka's bounces; `false`: Haraka bounces as without the plugin, and EHLO advertises neither DSN nor MTRK, which needs DSN (RFC 3885 §2): their parameters, if sent anyway, are accepted and ignored (no tracking, not passed on); turning it on again needs a restart",
      ),
      // AMB-44: the delay report timing.
      delayReportAfter: opt(
        int(0, 365 * DAY),
        4 * 3600,
        'seconds a message waits in the queue before its sender gets a `delayed` report (NOTIFY with DELAY, or no NOTIFY); never one per retry',
      ),
      delayReportInterval: opt(
        int(60, 365 * DAY),
        DAY,
        'seconds at least between two `delayed` reports about the same recipients',
      ),
      // AMB-43: the coalescing window.
      coalesceMs: opt(
        int(0, 10_000),
        2000,
        "milliseconds the outcomes of one message are gathered into one report (Haraka delivers once per destination domain); kept well below Haraka's 30 s plugin timeout, since the bounce hook waits for it",
      ),
      maxReturnSize: opt(
        int(0, 100 * 1024 * 1024),
        1024 * 1024,
        'octets up to which a failure report returns the whole message for RET=FULL; a larger one: its headers only',
      ),
      // AMB-41: the default when RET is absent.
      returnWithoutRet: opt(
        oneOf(['headers', 'full'] as const),
        'headers',
        'what a failure report returns when the sender gave no RET (RFC 3461 §4.3 leaves it to the MTA): `headers` sends no copy of the content to a possibly forged sender',
      ),
      // AMB-42: the backscatter policy.
      successDelayReports: opt(
        oneOf(['all', 'relay_clients'] as const),
        'all',
        "who gets `delivered`, `relayed`, `expanded` and `delayed` reports: `all` who ask (RFC 3461; an MTRK chain's final relay needs it), or `relay_clients` only (authenticated or relay-allowed clients) against backscatter; failure reports go to every sender",
      ),
    },
  },
  journal: {
    note: 'Where tracking writes wait while Redis cannot be reached (README.md, "Failure modes"): an append-only file per Haraka process, replayed in paced batches when Redis is back and at start-up.',
    options: {
      dir: opt(
        text('a directory'),
        null,
        'directory of the journal files, relative to the Haraka instance directory (next to `queue`, never inside it: Haraka treats every entry there as a queue file); every process of the instance uses it, so give each instance its own',
        { defaultText: '`mtrk-journal` in the Haraka directory' },
      ),
      maxBytes: opt(
        int(1, 1024 * 1024, 1024 * 1024),
        1024 * 1024 * 1024,
        'MiB one Haraka process (each cluster worker) may hold in its journal; writes beyond it are lost, counted and logged',
        { key: 'max_size' },
      ),
      fsyncMs: opt(
        int(1, 60_000),
        1000,
        'milliseconds between an append and its fdatasync: what a machine crash can lose',
        { key: 'fsync_interval' },
      ),
      replayBatch: opt(
        int(1, 10_000),
        100,
        'writes replayed at a time when Redis is back; the next batch waits for the answers',
      ),
      replayPauseMs: opt(
        int(0, 10_000),
        10,
        'milliseconds between replay batches, leaving the event loop and Redis to live mail',
        { key: 'replay_pause' },
      ),
    },
  },
  trace: {
    note:
      'The operator trace ("Message trace" in README.md): what `mtrk-trace` and the trace library find. Every message ' +
      'this relay accepts, with or without MTRK, is recorded with its envelope, Message-ID, client IP and HELO, ' +
      'queue ids and every delivery attempt, never its body, and indexed by each of them and by time. Trace records ' +
      'are never answered over MTQP.',
    options: {
      enabled: opt(
        bool,
        true,
        'record every accepted message for the operator trace; `false`: nothing is added to the trace (MTRK mail is still tracked for MTQP)',
      ),
      retention: opt(
        int(3600, 90 * DAY),
        3 * DAY,
        'seconds a trace record and its index entries are kept from arrival; longer while the message is still queued (`[main] queued_grace` beyond the give-up time)',
      ),
    },
  },
  web: {
    note:
      "The tracking page for senders, served by Haraka's own HTTP server (config/http.ini `listen`; HTTPS when that " +
      'port is 443 and Haraka has a certificate) under `path`. It asks the tracking servers with the same code as ' +
      '`mtqp track`. Off by default: nothing is mounted and no hook is registered; turning it on needs a restart.',
    options: {
      enabled: opt(bool, false, 'serve the tracking page and its JSON API'),
      path: opt(urlPath, '/mtrk', 'the URL path the page and its API live under'),
      server: opt(
        endpoint,
        null,
        "the tracking server asked for an envid and secret given without a link, by the name its certificate has; unset: this relay's own MTQP listener on loopback (without TLS, so set this with `starttls=required`)",
      ),
      starttls: opt(
        oneOf(['off', 'opportunistic', 'required'] as const),
        'opportunistic',
        'STARTTLS towards the tracking servers asked (RFC 3887 §6): `off`, `opportunistic` (when offered) or `required`',
      ),
      caFile: opt(
        text('a file path'),
        null,
        "PEM file of the authorities trusted for the tracking servers' certificates; unset: the system's",
        { key: 'ca' },
      ),
      dnsServers: opt(
        dnsServers,
        null,
        "name servers for finding the tracking servers of relays (SRV `_mtqp._tcp`); unset: the system's",
      ),
      maxHops: opt(int(1, 100), 10, 'tracking servers asked at most along one path, the first included'),
      trackTimeoutMs: opt(
        int(10, 3600, 1000),
        150_000,
        'seconds one tracking may take in all; then the page shows what is known and which servers did not answer',
        { key: 'track_timeout' },
      ),
      maxTrackings: opt(
        int(1, 10000),
        20,
        'trackings running at once; beyond, the page answers "busy, try again shortly" (HTTP 503)',
      ),
      operator: opt(
        bool,
        false,
        'serve the operator page (message trace: search, attempts, outcomes per hour) under `path`/operator/, behind HTTP Basic authentication',
      ),
      operatorUser: opt(text('a user name'), 'operator', 'the user name the operator page asks for'),
      operatorPasswordHash: opt(
        passwordHash,
        null,
        'the scrypt hash of the operator password (README "Operator page" says how to make it); unset: the operator page refuses everyone',
        { whenInvalid: 'the operator page refuses everyone until it is fixed' },
      ),
    },
  },
} satisfies Record<string, Section>

export type Options = typeof OPTIONS

/** The ini key of an option: its own, or its field name in snake_case. */
export function iniKey(field: string, option: Option<unknown, unknown>): string {
  return option.key ?? field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}
