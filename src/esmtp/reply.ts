// Enhanced status codes (RFC 3463) inside SMTP reply texts, for recording outcomes.

const ENHANCED = /(?:^|[\s(])([245])\.([1-9]\d{0,2}|0)\.([1-9]\d{0,2}|0)(?=$|[\s).,;:])/

/** The first enhanced status code in a reply text, or null when it has none. */
export function findEnhancedStatus(text: string | null | undefined): string | null {
  const m = ENHANCED.exec(text ?? '')
  return m ? `${m[1]}.${m[2]}.${m[3]}` : null
}

/**
 * The enhanced status code in a reply text whose class matches the outcome, else the class's catch-all
 * (x.0.0, RFC 3461 §6.3(g), ESC-3). A 4.x.x code in a reply that meant permanent failure is not trusted.
 */
export function enhancedStatus(text: string | null | undefined, cls: '2' | '4' | '5'): string {
  const found = findEnhancedStatus(text)
  return found?.startsWith(`${cls}.`) ? found : `${cls}.0.0`
}
