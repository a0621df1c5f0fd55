// SMTP clients for tests: a raw line client for asserting exact replies, and Python's smtplib as an independent
// implementation for whole messages.
import { execFile } from 'node:child_process'
import { connect, type Socket } from 'node:net'

export interface Reply {
  code: number
  /** The text of every line, without the code and separator. */
  lines: string[]
  text: string
}

export class SmtpClient {
  private buffer = ''
  private waiting: Array<(r: Reply) => void> = []
  private replies: Reply[] = []
  private current: string[] = []

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1')
    socket.on('data', (d: string) => this.onData(d))
    socket.on('error', () => {})
  }

  /** localAddress: the loopback address to connect from (127.0.0.2 is another client to an ACL). */
  static async connect(
    port: number,
    localAddress?: string,
  ): Promise<{ client: SmtpClient; greeting: Reply }> {
    const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) })
    const client = new SmtpClient(socket)
    await new Promise<void>((res, rej) => {
      socket.once('connect', res)
      socket.once('error', rej)
    })
    return { client, greeting: await client.reply() }
  }

  private onData(d: string): void {
    this.buffer += d
    for (let i = this.buffer.indexOf('\r\n'); i >= 0; i = this.buffer.indexOf('\r\n')) {
      const line = this.buffer.slice(0, i)
      this.buffer = this.buffer.slice(i + 2)
      this.current.push(line.slice(4))
      if (line[3] !== '-') {
        const reply = { code: Number(line.slice(0, 3)), lines: this.current, text: this.current.join('\n') }
        this.current = []
        const w = this.waiting.shift()
        if (w) w(reply)
        else this.replies.push(reply)
      }
    }
  }

  reply(ms = 15000): Promise<Reply> {
    const r = this.replies.shift()
    if (r) return Promise.resolve(r)
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error('no SMTP reply')), ms)
      this.waiting.push((x) => {
        clearTimeout(timer)
        res(x)
      })
    })
  }

  async cmd(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`)
    return this.reply()
  }

  /** Sends the message body and the terminating dot, returns the reply to DATA's end. */
  async data(body: string): Promise<Reply> {
    const start = await this.cmd('DATA')
    if (start.code !== 354) return start
    const stuffed = body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')
    return this.cmd(`${stuffed}\r\n.`)
  }

  close(): void {
    this.socket.end('QUIT\r\n')
    this.socket.destroy()
  }
}

export interface PySendResult {
  ok: boolean
  /** Recipients refused at RCPT, with code and message. */
  refused: Record<string, [number, string]>
  /** The error of a failed transaction (MAIL or DATA refused, etc.). */
  error?: { type: string; code?: number; message: string }
}

const PY_SEND = `
import json, smtplib, sys
a = json.loads(sys.stdin.read())
out = {"ok": False, "refused": {}}
try:
    s = smtplib.SMTP("127.0.0.1", a["port"], local_hostname="client.test", timeout=30)
    s.ehlo()
    refused = s.sendmail(a["from"], a["to"], a["body"], mail_options=a["mail"], rcpt_options=a["rcpt"])
    out["ok"] = True
    out["refused"] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
    s.quit()
except smtplib.SMTPRecipientsRefused as e:
    out["refused"] = {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}
    out["error"] = {"type": "SMTPRecipientsRefused", "message": str(e)}
except smtplib.SMTPResponseException as e:
    out["error"] = {"type": type(e).__name__, "code": e.smtp_code, "message": e.smtp_error.decode()}
except Exception as e:
    out["error"] = {"type": type(e).__name__, "message": str(e)}
print(json.dumps(out))
`

/** Sends one message with Python's smtplib (an SMTP client independent of this codebase). */
export function pySendmail(args: {
  port: number
  from: string
  to: string[]
  mail?: string[]
  rcpt?: string[]
  body?: string
}): Promise<PySendResult> {
  const input = JSON.stringify({
    mail: [],
    rcpt: [],
    body: 'Subject: tracking test\r\n\r\nhello\r\n',
    ...args,
  })
  return new Promise((res, rej) => {
    const child = execFile('python3', ['-c', PY_SEND], { timeout: 60000 }, (e, stdout, stderr) => {
      if (e) return rej(new Error(`python smtplib failed: ${e.message}\n${stderr}`))
      res(JSON.parse(stdout) as PySendResult)
    })
    child.stdin?.end(input)
  })
}
