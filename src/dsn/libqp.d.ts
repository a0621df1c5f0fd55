// libqp 2.1 (nodemailer's quoted-printable codec, RFC 2045 §6.7) ships no types; the two functions used here.
declare module 'libqp' {
  /** Quoted-printable of the octets, line breaks as given, without soft line breaks. */
  export function encode(buffer: Buffer | string): string
  /** Soft line breaks (`=` CRLF) so no line is longer than lineLength. */
  export function wrap(str: string, lineLength?: number): string
}
