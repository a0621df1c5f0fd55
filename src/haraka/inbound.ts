// The one change this plugin makes to Haraka's SMTP server: letting a padded MTRK certifier reach the mail hook.
import { unpadMtrkParam } from '../esmtp/params'
import type { HarakaPlugin } from './types'

type CmdMail = (this: unknown, line: string) => unknown
interface ConnectionModule {
  Connection?: { prototype: { cmd_mail?: CmdMail } }
}

const WRAPPED = Symbol.for('haraka-plugin-mtrk.cmd_mail')

/**
 * Wraps Connection.prototype.cmd_mail once per process so that `MTRK=<base64>=` is unpadded before Haraka's RFC 1869
 * parser sees it (AMB-2). The hooks read the raw line (connection.current_line), so nothing else changes. Returns
 * false, and mail keeps working with padded certifiers refused by Haraka (501), when the seam is not there.
 */
export function acceptPaddedCertifiers(plugin: HarakaPlugin): boolean {
  let proto: ({ cmd_mail?: CmdMail } & { [WRAPPED]?: boolean }) | undefined
  try {
    proto = (plugin.haraka_require('connection') as ConnectionModule).Connection?.prototype
  } catch {
    return false
  }
  const original = proto?.cmd_mail
  if (!proto || typeof original !== 'function') return false
  if (proto[WRAPPED]) return true
  proto.cmd_mail = function (this: unknown, line: string) {
    return original.call(this, unpadMtrkParam(line))
  }
  proto[WRAPPED] = true
  return true
}
