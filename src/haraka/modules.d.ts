// Declarations for the two untyped Haraka helper packages this plugin imports.

declare module 'haraka-constants' {
  export const cont: number
  export const stop: number
  export const deny: number
  export const denysoft: number
  export const denydisconnect: number
  export const disconnect: number
  export const ok: number
}

declare module 'haraka-dsn' {
  interface DSN {
    code: number
    reply: string
  }
  /** A reply "<code> <class>.<subject>.<detail> <msg>" that Haraka sends as is. */
  export function create(code: number, msg: string, subject: number, detail: number): DSN
}
