// The originator's set-up before sending a tracked message (RFC 3885 §3, §4.2): a fresh secret A, its hash B,
// a unique ENVID, the MAIL FROM parameters and the mtqp URI to keep. Randomness and the clock are injected.
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto'
import { isUniqueEnvid } from '../esmtp/envid'
import { encodeXtext } from '../esmtp/xtext'
import { formatMtqpUri } from '../uri/mtqp-uri'
import { encodeBase64 } from '../util/base64'
import { isDnsName } from '../util/dns-name'
import { err, ok, type Result } from '../util/result'

/** SEC-1, AMB-3: 24 octets (192 bits, within 128-1024) so that base64(A) needs no padding. */
export const SECRET_OCTETS = 24

/** MTRK-9: the timeout asked for by default, 10 days, like the relay's default retention. */
export const DEFAULT_TIMEOUT = 864_000

/** mtrk-timeout is 1*9DIGIT (RFC 3885 §3.1). */
const MAX_TIMEOUT = 999_999_999

/** DSN-8: an ENVID is at most 100 characters (MTRK-24 counts against it). */
const MAX_ENVID = 100

/** Random octets in the local-envid (MTRK-25); with the time, collisions are not a concern. */
const LOCAL_RANDOM_OCTETS = 8

export interface NewTrackingOptions {
  /** The fully qualified host name of the machine making the ENVID (MTRK-23). */
  fqhn: string
  /** Seconds the relays should keep tracking data (mtrk-timeout). Default 864000 (10 days). */
  timeout?: number
  /** The tracking server to put in the mtqp URI: normally the relay the message is submitted to. */
  server?: { host: string; port?: number }
  /** Default crypto.randomBytes: A must be unpredictable and never reused (SEC-1). */
  randomBytes?: (n: number) => Uint8Array
  /** ms since the epoch; default Date.now. */
  now?: () => number
}

export interface NewTracking {
  /** base64(A) without padding: the secret to keep (SEC-3). Whoever holds it can track the message. */
  secret: string
  /** base64(SHA-1(A)) without padding, 27 characters: the MTRK certifier B (SEC-2, AMB-2). */
  certifier: string
  /** The unique-envid as sent, in ENVID= and in TRACK (xtext). */
  envid: string
  timeout: number
  /** `ENVID=<envid> MTRK=<certifier>:<timeout>`, to add to MAIL FROM. */
  mailParameters: string
  /** mtqp://<server>/track/<envid>/<secret> when a server was given (RFC 3887 §9). A credential (URI-5). */
  uri?: string
}

export function newTracking(opts: NewTrackingOptions): Result<NewTracking> {
  const fqhn = opts.fqhn.replace(/\.$/, '')
  if (!isDnsName(fqhn, { allowSingleLabel: false })) {
    return err(`"${opts.fqhn}" is not a fully qualified host name (RFC 3885 §3.2 wants local-envid@FQDN)`)
  }
  const timeout = opts.timeout ?? DEFAULT_TIMEOUT
  if (!Number.isInteger(timeout) || timeout < 0 || timeout > MAX_TIMEOUT) {
    return err(`the timeout must be a whole number of seconds from 0 to ${MAX_TIMEOUT} (RFC 3885 §3.1)`)
  }
  const random = opts.randomBytes ?? cryptoRandomBytes
  const a = random(SECRET_OCTETS)
  if (a.length !== SECRET_OCTETS) return err(`randomBytes returned ${a.length} octets, not ${SECRET_OCTETS}`)
  const secret = encodeBase64(a, { padding: false })
  const certifier = encodeBase64(createHash('sha1').update(a).digest(), { padding: false }) // SEC-2, AMB-4
  const envid = uniqueEnvid(fqhn, random, (opts.now ?? Date.now)())
  if (!isUniqueEnvid(envid) || envid.length > MAX_ENVID)
    return err('could not make an ENVID of at most 100 characters')
  const made: NewTracking = {
    secret,
    certifier,
    envid,
    timeout,
    mailParameters: `ENVID=${envid} MTRK=${certifier}:${timeout}`,
  }
  if (opts.server !== undefined) {
    const uri = formatMtqpUri({ ...opts.server, envid, secret })
    if (!uri.ok) return err(`cannot make the mtqp URI: ${uri.error}`)
    made.uri = uri.value
  }
  return ok(made)
}

/**
 * MTRK-23..25: `<time base 36>.<random hex>@<fqhn>`, xtext-encoded. When that is over 100 characters the host is
 * replaced by base64(SHA-1(fqhn)) without padding (MTRK-24), whose "+" xtext writes as "+2B".
 */
function uniqueEnvid(fqhn: string, random: (n: number) => Uint8Array, now: number): string {
  const local = `${now.toString(36)}.${Buffer.from(random(LOCAL_RANDOM_OCTETS)).toString('hex')}`
  const plain = encodeXtext(`${local}@${fqhn}`)
  if (plain.length <= MAX_ENVID) return plain
  const hashed = encodeBase64(createHash('sha1').update(fqhn).digest(), { padding: false })
  return encodeXtext(`${local}@${hashed}`)
}
