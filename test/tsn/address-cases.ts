// SMTPUTF8 recipients and ORCPTs as received, with the Final-Recipient and Original-Recipient the tracking answer and
// the delivery status notification both write for them (src/tsn/address; issue 10 cases 1-3, AMB-39).
export const ADDRESS_CASES: ReadonlyArray<
  [address: string, orcpt: string | null, final: string, original: string | null]
> = [
  ['jörg@example.org', null, 'utf-8; j\\x{F6}rg@example.org', null],
  [
    'jörg@example.org',
    'utf-8;jörg@example.org',
    'utf-8; j\\x{F6}rg@example.org',
    'utf-8; j\\x{F6}rg@example.org',
  ],
  [
    'jörg+tag=1@example.org',
    'utf-8;müller\\x{2B}tag@example.org',
    'utf-8; j\\x{F6}rg\\x{2B}tag\\x{3D}1@example.org',
    'utf-8; m\\x{FC}ller\\x{2B}tag@example.org',
  ],
  [
    'you@example.org',
    'rfc822;j+C3+B6rg@example.org',
    'rfc822; you@example.org',
    'utf-8; j\\x{F6}rg@example.org',
  ],
  [
    'you@example.org',
    'rfc822;j+01rg@example.org',
    'rfc822; you@example.org',
    'utf-8; j\\x{01}rg@example.org',
  ],
  ['you@example.org', 'rfc822;j+FFrg@example.org', 'rfc822; you@example.org', 'rfc822; j+FFrg@example.org'],
  ['you@example.org', 'RFC822;Bob+2Bx@example.org', 'rfc822; you@example.org', 'RFC822; Bob+x@example.org'],
  ['you@example.org', 'x-foo;a+2Bb', 'rfc822; you@example.org', 'x-foo; a+b'],
]
