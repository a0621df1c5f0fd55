// Python's `email` package as the independent reader of the reports src/dsn writes (unit and end-to-end tests).
import { execFileSync } from 'node:child_process'

const SCRIPT = String.raw`
import email, email.policy, json, re, sys

def fields(msg):
    return [[k, re.sub(r'\r?\n(?=[ \t])', '', v).strip()] for k, v in msg.items()]

def report(text):
    m = email.message_from_string(text)
    out = {'headers': fields(m), 'type': m.get_content_type(), 'reportType': m.get_param('report-type'),
           'defects': [str(d) for d in m.defects], 'parts': []}
    for part in m.get_payload() if m.is_multipart() else []:
        p = {'type': part.get_content_type(), 'charset': part.get_content_charset(),
             'defects': [str(d) for d in part.defects]}
        if p['type'] == 'message/delivery-status':
            blocks = part.get_payload()
            p['message'] = fields(blocks[0])
            p['recipients'] = [fields(b) for b in blocks[1:]]
        elif p['type'] == 'message/rfc822':
            [inner] = part.get_payload()
            p['headers'] = fields(inner)
            p['body'] = inner.get_payload()
        else:
            p['text'] = part.get_payload(decode=True).decode(part.get_content_charset() or 'us-ascii')
        out['parts'].append(p)
    return out

print(json.dumps([report(t) for t in json.load(sys.stdin)]))
`

export type PyFields = [name: string, value: string][]
export interface PyPart {
  type: string
  charset: string | null
  defects: string[]
  message?: PyFields
  recipients?: PyFields[]
  headers?: PyFields
  body?: string
  text?: string
}
export interface PyReport {
  headers: PyFields
  type: string
  reportType: string | null
  defects: string[]
  parts: PyPart[]
}

/** Parses each report text with Python's email package. */
export function parseReports(texts: string[]): PyReport[] {
  return JSON.parse(execFileSync('python3', ['-c', SCRIPT], { input: JSON.stringify(texts) }).toString())
}

/** The value of a field by name, case-insensitive; undefined when absent. */
export function field(fields: PyFields | undefined, name: string): string | undefined {
  return fields?.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1]
}
