// Package entry point: Haraka loads it as the `mtrk` plugin and copies these functions onto its Plugin object.

export { dsn_bounce, dsn_deferred, dsn_delivered } from './plugin/dsn'
export {
  advertise_mtrk,
  check_mail_params,
  check_rcpt_params,
  note_redirection,
  open_store,
  record_acceptance,
  record_queue_refusal,
  register,
  shutdown,
  stamp_arrival,
  start_mtqp,
} from './plugin/mtrk'
export { record_bounce, record_deferred, record_delivered, relay_attempt } from './plugin/relay'
export { mount_web } from './plugin/web'
