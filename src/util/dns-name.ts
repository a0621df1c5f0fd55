// DNS host names as RFC 2821 `domain` / `sub-domain` spell them (Let-dig [Ldh-str]), plus the DNS length limits
// (63 octets a label, 253 a name). Shared by the MTQP STARTTLS parser (MTQP-22) and the mtqp URI authority (URI-1).

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
/** One label or more; DOTTED: two or more. One test instead of a split and a test per label. */
const NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`)
const DOTTED = new RegExp(`^${LABEL}(?:\\.${LABEL})+$`)

/**
 * True when `s` is a dot-separated host name. `allowSingleLabel: false` requires at least one dot, as the STARTTLS
 * grammar `domain = sub-domain 1*("." sub-domain)` does (AMB-24). A trailing root dot is refused.
 */
export function isDnsName(s: string, opts: { allowSingleLabel: boolean }): boolean {
  if (s.length === 0 || s.length > 253) return false
  return (opts.allowSingleLabel ? NAME : DOTTED).test(s)
}
