// Enhanced status codes (RFC 3463) inside SMTP reply texts, for recording outcomes.

const ENHANCED = /(?:^|[\s(])([245])\.([1-9]\d{0,2}|0)\.([1-9]\d{0,2}|0)(?=$|[\s).,;:])/

/** The first enhanced status code in a reply text, or null when it has none. */
export function findEnhancedStatus(text: string | null | undefined): string | null {
  const m = ENHANCED.exec(text ?? '')
  return m ? `${m[1]}.${m[2]}.${m[3]}` : null
}
