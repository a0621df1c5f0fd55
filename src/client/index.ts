// The MTQP client library (RFC 3887 client, RFC 3885 originator): `haraka-plugin-mtrk/client`.

export { decodeUtf8Addr, encodeUtf8AddrXtext } from '../esmtp/utf8-addr'
export {
  DELIVERY_STATUS_TYPES,
  decodeAddress,
  type Read,
  readDeliveryReport,
  readDeliveryStatus,
  readTrackingBody,
  readTrackingStatus,
} from '../tsn/reader'
export { describeStatus } from '../tsn/status-text'
export type {
  Action,
  DeliveryRecipientStatus,
  DeliveryStatus,
  DsnAction,
  ExtensionField,
  RecipientStatus,
  TrackingStatus,
  TypedValue,
} from '../tsn/types'
export { formatMtqpUri, MTQP_DEFAULT_PORT, type MtqpUri, parseMtqpUri, redactMtqpUri } from '../uri/mtqp-uri'
export {
  type ConnectionOptions,
  type ConnectTarget,
  MIN_INACTIVITY_TIMEOUT_MS,
  MtqpClient,
  MtqpClientError,
  MtqpOptionError,
  type StarttlsPolicy,
  type TrackAnswer,
} from './connection'
export {
  type DiscoveryFailure,
  type DnsResolver,
  discoverServers,
  dnsServerResolver,
  endpointAddresses,
  type HopTarget,
  orderSrvRecords,
  type ServerEndpoint,
  type SrvRecord,
  srvName,
  systemResolver,
} from './discovery'
export {
  DEFAULT_MAX_HOPS,
  type FollowOptions,
  followFrom,
  followReferrals,
  type Hop,
  type HopEvent,
  type HopOutcome,
  hostKey,
  referrals,
  type SkipReason,
} from './follow'
export {
  DEFAULT_TIMEOUT,
  type NewTracking,
  type NewTrackingOptions,
  newTracking,
  SECRET_OCTETS,
} from './new-tracking'
export { mtqpQuerier, type QuerierOptions } from './querier'
export { type RenderOptions, renderNewTracking, renderProgress, renderReport } from './render'
export {
  buildTimelines,
  mostPressing,
  overallState,
  type RecipientState,
  type RecipientTimeline,
  type TimelineStep,
} from './timeline'
export {
  defaultTofuPath,
  describeTofuAlarm,
  type TofuAlarm,
  TofuFile,
  TofuMemory,
  type TofuRecord,
} from './tofu'
export {
  reportOf,
  type TrackingReport,
  type TrackOptions,
  type TrackTarget,
  trackMessage,
  trackMessages,
  uriTarget,
} from './track'
export type { Querier, QueryFailure, QueryResult, ServerInfo, TrackRequest } from './types'
