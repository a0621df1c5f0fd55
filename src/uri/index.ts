// Public API of the mtqp URI module (RFC 3887 §9).
export { formatMtqpUri, MTQP_DEFAULT_PORT, type MtqpUri, parseMtqpUri, redactMtqpUri } from './mtqp-uri'
