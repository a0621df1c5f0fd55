// RFC 5322 date-time for Arrival-Date, Last-Attempt-Date and Will-Retry-Until (RFC 3464 §2.2.5, TSN-4, AMB-32).
import { err, ok, type Result } from '../util/result'
import { stripComments } from './syntax'

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const
const MONTH_NAMES = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec',
] as const

/** The zone is "+"/"-" and four digits HHMM (RFC 5322 §3.3), so at most 99 hours 59 minutes. */
export const MAX_UTC_OFFSET_MINUTES = 99 * 60 + 59

/** RFC 5322 §3.3: "the year is any numeric year 1900 or later"; four digits keeps the text fixed-width. */
export const MIN_YEAR = 1900
export const MAX_YEAR = 9999

/** RFC 5322 §4.3 obsolete zones in minutes east of UTC. */
const NAMED_ZONES: Readonly<Record<string, number>> = {
  UT: 0,
  UTC: 0,
  GMT: 0,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
}

/**
 * `Mon, 1 Jan 2001 15:15:15 -0500`: the wall-clock time at `utcOffsetMinutes` east of UTC with a numeric
 * zone, which RFC 3464 §2.2.5 requires (TSN-4, AMB-32). Sub-second precision is dropped.
 */
export function formatDateTime(date: Date, utcOffsetMinutes = 0): Result<string> {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) return err('not a valid date')
  if (!Number.isInteger(utcOffsetMinutes) || Math.abs(utcOffsetMinutes) > MAX_UTC_OFFSET_MINUTES) {
    return err(
      `utcOffsetMinutes must be an integer from -${MAX_UTC_OFFSET_MINUTES} to ${MAX_UTC_OFFSET_MINUTES}`,
    )
  }
  const wall = new Date(date.getTime() + utcOffsetMinutes * 60_000)
  const year = wall.getUTCFullYear()
  if (year < MIN_YEAR || year > MAX_YEAR) return err(`year ${year} is outside ${MIN_YEAR}-${MAX_YEAR}`)
  const day = DAY_NAMES[wall.getUTCDay()]!
  const month = MONTH_NAMES[wall.getUTCMonth()]!
  const time = `${pad2(wall.getUTCHours())}:${pad2(wall.getUTCMinutes())}:${pad2(wall.getUTCSeconds())}`
  return ok(`${day}, ${wall.getUTCDate()} ${month} ${year} ${time} ${formatZone(utcOffsetMinutes)}`)
}

function formatZone(offset: number): string {
  const abs = Math.abs(offset)
  return `${offset < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

// [day-name [","]] day month year hour ":" minute [":" second] zone, with any amount of whitespace.
const DATE_TIME =
  /^(?:([a-z]{3})\s*,?\s*)?(\d{1,2})\s+([a-z]{3})\s+(\d{2,4})\s+(\d{1,2})\s*:\s*(\d{2})(?:\s*:\s*(\d{2}))?\s*([+-]\d{4}|[a-z]{1,5})$/i

/**
 * A lenient RFC 5322 date-time reader (MTQPC-5): optional day name, 2-, 3- and 4-digit years (§4.3),
 * obsolete and military zones, comments and extra whitespace. A day name that disagrees with the date is
 * ignored, since the date itself is what counts; impossible dates and times are refused.
 */
export function parseDateTime(text: string): Result<Date> {
  const uncommented = stripComments(text)
  if (!uncommented.ok) return uncommented
  const m = DATE_TIME.exec(uncommented.value.text.trim())
  if (!m) return err('not an RFC 5322 date-time')
  const [, dayName, day, monthName, year, hour, minute, second, zone] = m
  if (dayName !== undefined && indexOfName(DAY_NAMES, dayName) < 0) return err(`unknown day name ${dayName}`)
  const month = indexOfName(MONTH_NAMES, monthName!)
  if (month < 0) return err(`unknown month ${monthName}`)
  const offset = parseZone(zone!)
  if (!offset.ok) return offset
  const fields = {
    year: fullYear(year!),
    month,
    day: Number(day),
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second ?? '0'),
  }
  const invalid = checkFields(fields)
  if (invalid) return err(invalid)
  const utc = Date.UTC(fields.year, fields.month, fields.day, fields.hour, fields.minute, fields.second)
  return ok(new Date(utc - offset.value * 60_000))
}

function indexOfName(names: readonly string[], name: string): number {
  return names.findIndex((candidate) => candidate.toLowerCase() === name.toLowerCase())
}

/** RFC 5322 §4.3: two-digit years 00-49 are 2000-2049, 50-99 and three-digit years count from 1900. */
function fullYear(digits: string): number {
  const n = Number(digits)
  if (digits.length === 2) return n < 50 ? 2000 + n : 1900 + n
  return digits.length === 3 ? 1900 + n : n
}

function parseZone(zone: string): Result<number> {
  if (zone.startsWith('+') || zone.startsWith('-')) {
    const minutes = Number(zone.slice(3))
    if (minutes > 59) return err(`zone ${zone} has more than 59 minutes`)
    return ok((zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + minutes))
  }
  const upper = zone.toUpperCase()
  const named = NAMED_ZONES[upper]
  if (named !== undefined) return ok(named)
  // Military zones: RFC 822 defined their signs backwards, so RFC 5322 §4.3 reads them all as UTC.
  if (upper.length === 1 && upper !== 'J') return ok(0)
  // RFC 5322 §4.3: any other alphabetic zone of unknown meaning SHOULD be read as -0000 (e.g. CET, MESZ).
  if (upper.length > 1) return ok(0)
  return err(`unknown zone ${zone}`)
}

interface DateFields {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** Date.UTC silently rolls 31 Feb over into March; refuse such dates instead. */
function checkFields(f: DateFields): string | undefined {
  if (f.year < MIN_YEAR || f.year > MAX_YEAR) return `year ${f.year} is outside ${MIN_YEAR}-${MAX_YEAR}`
  const daysInMonth = new Date(Date.UTC(f.year, f.month + 1, 0)).getUTCDate()
  if (f.day < 1 || f.day > daysInMonth)
    return `day ${f.day} does not exist in ${MONTH_NAMES[f.month]} ${f.year}`
  if (f.hour > 23 || f.minute > 59) return `time ${f.hour}:${f.minute} does not exist`
  // 60 is a leap second (RFC 5322 §3.3); Date cannot hold it, so it reads as the next minute's first second.
  if (f.second > 60) return `second ${f.second} does not exist`
  return undefined
}
