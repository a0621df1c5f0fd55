import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { type NextHop, NO_EXTENSIONS } from '../../src/relay/forwarding'
import { ehloExtensions, type Forwarder, HopSession, withParams } from '../../src/relay/session'

/** A forwarder that shows what it was asked: MTRK only to MTRK hops, the hop's view in every RCPT parameter. */
function recorder(): Forwarder & { paths: string[] } {
  const paths: string[] = []
  return {
    paths,
    mail: (hop: NextHop) => ({
      params: [...(hop.dsn ? ['ENVID=e@h'] : []), ...(hop.mtrk ? ['MTRK=b:10'] : [])],
      mtrkSent: hop.mtrk,
    }),
    rcpt: (path: string, hop: NextHop) => {
      paths.push(path)
      return hop.dsn ? ['NOTIFY=NEVER'] : []
    },
  }
}

/** Plays the server side: each reply is a list of lines, the last one final. */
function play(session: HopSession, lines: string[], eol = '\r\n'): void {
  for (const l of lines) session.reply(`${l}${eol}`)
}

test('EHLO keywords: the greeting line is not one; case, parameters and look-alikes', () => {
  assert.deepEqual(ehloExtensions(['MTRK Hello', 'PIPELINING', 'dsn', 'SIZE 100']), {
    mtrk: false,
    dsn: true,
  })
  assert.deepEqual(ehloExtensions(['mx.test', 'mtrk', 'X-DSN', 'DSNX']), { mtrk: true, dsn: false })
  assert.deepEqual(ehloExtensions(['mx.test', '  MTRK  ', 'DSN extra']), { mtrk: true, dsn: true })
  assert.deepEqual(ehloExtensions([]), NO_EXTENSIONS)
})

test('the EHLO reply of the connection decides; MAIL FROM and RCPT TO get their parameters', () => {
  const f = recorder()
  const s = new HopSession('mx.next.test', f)
  play(s, ['220 mx.next.test ready'])
  assert.equal(s.command('EHLO me.test\r\n'), 'EHLO me.test\r\n')
  play(s, ['250-mx.next.test hello', '250-DSN', '250 MTRK'])
  assert.deepEqual(s.record.hop, { mtrk: true, dsn: true })
  assert.equal(s.command('MAIL FROM:<a@b.test>\r\n'), 'MAIL FROM:<a@b.test> ENVID=e@h MTRK=b:10\r\n')
  assert.equal(s.record.mtrkSent, true)
  assert.equal(s.command('RCPT TO:<"x y"@c.test>\r\n'), 'RCPT TO:<"x y"@c.test> NOTIFY=NEVER\r\n')
  assert.deepEqual(f.paths, ['<"x y"@c.test>'], 'the forward-path exactly as written')
  assert.equal(s.record.host, 'mx.next.test')
})

test('RFC 3207 §4.2: STARTTLS forgets the keywords; what counts is the EHLO after it', () => {
  for (const [before, after, mtrk] of [
    [['250-DSN', '250 MTRK'], ['250 PIPELINING'], false],
    [['250 STARTTLS'], ['250-DSN', '250 MTRK'], true],
  ] as const) {
    const s = new HopSession('mx', recorder())
    s.command('EHLO me\r\n')
    play(s, ['250-mx', ...before])
    s.command('STARTTLS\r\n')
    assert.deepEqual(s.record.hop, NO_EXTENSIONS)
    play(s, ['220 go ahead'])
    s.command('EHLO me\r\n')
    play(s, ['250-mx', ...after])
    assert.equal(s.command('MAIL FROM:<a@b>\r\n').includes('MTRK='), mtrk)
    assert.equal(s.record.mtrkSent, mtrk)
  }
})

test('EHLO refused, HELO fallback: no extensions, so nothing is added', () => {
  const s = new HopSession('mx', recorder())
  s.command('EHLO me\r\n')
  play(s, ['500 what?'])
  s.command('HELO me\r\n')
  play(s, ['250 mx'])
  assert.equal(s.command('MAIL FROM:<a@b>\r\n'), 'MAIL FROM:<a@b>\r\n')
  assert.equal(s.command('RCPT TO:<c@d>\r\n'), 'RCPT TO:<c@d>\r\n')
  assert.equal(s.record.mtrkSent, false)
})

test('LHLO counts like EHLO; reply lines with or without CR, and bare "250"', () => {
  const s = new HopSession('lda', recorder())
  s.command('LHLO me\r\n')
  play(s, ['250-lda', '250-MTRK', '250'], '\n')
  assert.deepEqual(s.record.hop, { mtrk: true, dsn: false })
})

test('no forwarder (nothing to forward, or forwarding off): lines pass unchanged, MTRK is never "sent"', () => {
  const s = new HopSession('mx', null)
  s.command('EHLO me\r\n')
  play(s, ['250-mx', '250-DSN', '250 MTRK'])
  assert.equal(s.command('MAIL FROM:<a@b> SMTPUTF8\r\n'), 'MAIL FROM:<a@b> SMTPUTF8\r\n')
  assert.equal(s.command('RCPT TO:<c@d>\r\n'), 'RCPT TO:<c@d>\r\n')
  assert.equal(s.record.mtrkSent, false)
})

test('the last reply and the reply to the end of data are kept for the outcome hooks', () => {
  const s = new HopSession('mx', recorder())
  s.command('DATA\r\n')
  play(s, ['354 go'])
  assert.equal(s.record.dataReply, null)
  s.command('.\r\n')
  play(s, ['250-2.6.0 queued', '250 as 1234'])
  assert.deepEqual(s.record.dataReply, { code: 250, text: '2.6.0 queued as 1234' })
  s.command('QUIT\r\n')
  play(s, ['221 bye'])
  assert.deepEqual(s.record.lastReply, { code: 221, text: 'bye' })
  assert.deepEqual(s.record.dataReply, { code: 250, text: '2.6.0 queued as 1234' })
  s.reply('garbage that is no reply')
  assert.deepEqual(s.record.lastReply, { code: 221, text: 'bye' })
})

test('only MAIL FROM and RCPT TO lines are ever rewritten; they keep their text and line ending', () => {
  fc.assert(
    fc.property(fc.string(), fc.constantFrom('\r\n', '\n'), (text, eol) => {
      const s = new HopSession('mx', recorder())
      s.command('EHLO me\r\n')
      play(s, ['250-mx', '250-DSN', '250 MTRK'])
      const line = `${text}${eol}`
      const out = s.command(line)
      if (/^(MAIL FROM:|RCPT TO:)/i.test(line)) {
        assert.ok(out.startsWith(line.slice(0, -eol.length)) && out.endsWith(eol))
        assert.ok(out.length > line.length)
      } else {
        assert.equal(out, line)
      }
    }),
  )
})

test('withParams: none leaves the line byte-identical', () => {
  assert.equal(withParams('MAIL FROM:<>\r\n', []), 'MAIL FROM:<>\r\n')
  assert.equal(withParams('RCPT TO:<a@b>\r\n', ['X=1', 'Y=2']), 'RCPT TO:<a@b> X=1 Y=2\r\n')
  assert.equal(withParams('RCPT TO:<a@b>\n', ['X=1']), 'RCPT TO:<a@b> X=1\n')
})
