// RFC 3886 message/tracking-status: the data model, its writer and reader, dates and status texts. Pure: no I/O,
// clock or randomness.
export { formatDateTime, MAX_UTC_OFFSET_MINUTES, parseDateTime } from './date'
export { parseTrackingBody, parseTrackingStatus } from './reader'
export { describeStatus } from './status-text'
export {
  ACTIONS,
  type Action,
  type ExtensionField,
  isAction,
  type RecipientStatus,
  type TrackingStatus,
  type TypedValue,
} from './types'
export { boundaryFromBytes, type FormatOptions, formatTrackingBody, formatTrackingStatus } from './writer'
