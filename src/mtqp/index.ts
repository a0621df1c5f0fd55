// Public API of the MTQP wire modules (RFC 3887): framing, commands, responses and the greeting. All pure.
export {
  type BadCommand,
  type ClientCommand,
  type Command,
  type CommentCommand,
  type FormatCommandOptions,
  formatCommand,
  KEYWORDS,
  type Keyword,
  type ParseCommandOptions,
  parseCommand,
  type QuitCommand,
  type StarttlsCommand,
  type TrackCommand,
} from './command'
export {
  type FramedLine,
  LineDecoder,
  type LineDecoderOptions,
  MAX_LINE_OCTETS,
  OVERLONG_HEAD_OCTETS,
} from './framing'
export {
  DEFAULT_GREETING_TEXT,
  formatGreeting,
  type Greeting,
  type GreetingError,
  type GreetingOption,
  type GreetingOptions,
  greetingResponse,
  parseGreeting,
} from './greeting'
export {
  formatResponse,
  INDICATORS,
  type Indicator,
  type MtqpResponse,
  parseResponse,
  parseStatusLine,
  ResponseDecoder,
  type ResponseDecoderOptions,
  type StatusLine,
} from './response'
