// The operator page's script: search the message trace, show one message with every attempt, and draw the
// outcomes per hour as an SVG chart. Every text from the server goes into the page as text, never as HTML.
;(() => {
  const $ = (id) => document.getElementById(id)
  const SVG = 'http://www.w3.org/2000/svg'
  /** Chart order, bottom up; each state also has a pattern class, so the chart reads without colour. */
  const OUTCOMES = ['delivered', 'transferred', 'relayed', 'expanded', 'delayed', 'failed']

  function el(tag, className, ...children) {
    const e = document.createElement(tag)
    if (className) e.className = className
    for (const c of children) if (c !== null && c !== undefined) e.append(c)
    return e
  }

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag)
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
    for (const c of children) e.append(c)
    return e
  }

  function when(ms) {
    if (ms === null || ms === undefined) return ''
    return new Date(ms).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' })
  }

  function problem(text) {
    $('problem').textContent = text
    $('problem').hidden = text === ''
  }

  async function get(path) {
    const res = await fetch(path, {
      credentials: 'same-origin',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    })
    const data = await res.json().catch(() => ({}))
    if (!res.ok) throw new Error(data.error ?? `The server answered ${res.status}.`)
    return data
  }

  function stateCell(action) {
    return el('span', `state-word action-${action}`, action)
  }

  function lastReply(r) {
    const h = r.history[r.history.length - 1]
    return h?.reply ? `${h.code ?? ''} ${h.reply}`.trim() : ''
  }

  function addRows(messages) {
    const body = $('results').tBodies[0]
    for (const m of messages) {
      for (const r of m.recipients) {
        const open = el('button', 'link', m.txn)
        open.type = 'button'
        open.addEventListener('click', () => void showMessage(m.txn))
        body.append(
          el(
            'tr',
            null,
            el('td', 'nowrap', when(m.arrival)),
            el('td', null, m.from === '' ? '<>' : m.from),
            el('td', null, r.address),
            el('td', null, stateCell(r.action)),
            el('td', null, r.status),
            el('td', null, r.remoteMta ?? ''),
            el('td', 'reply', lastReply(r)),
            el('td', null, open),
          ),
        )
      }
    }
  }

  let params = null
  let cursor = null

  async function search(more) {
    problem('')
    if (!more) {
      $('results').tBodies[0].replaceChildren()
      $('detail').hidden = true
    }
    const q = new URLSearchParams(params)
    if (more && cursor) q.set('cursor', cursor)
    try {
      const page = await get(`api/search?${q}`)
      addRows(page.messages)
      cursor = page.next
      $('more').hidden = !cursor
      $('results-section').hidden = false
      if ($('results').tBodies[0].rows.length === 0)
        $('results').tBodies[0].append(el('tr', null, el('td', 'none', 'No message matches.')))
      if (!more) await chart(q)
    } catch (e) {
      problem(e.message)
    }
  }

  async function chart(q) {
    // The counts are of all mail in the time range: the summary takes no other filter.
    const range = new URLSearchParams()
    for (const k of ['since', 'until']) if (q.has(k)) range.set(k, q.get(k))
    const summary = await get(`api/summary?${range}`)
    const hours = summary.hours
    const box = $('chart')
    box.replaceChildren()
    $('chart-legend').replaceChildren()
    $('chart-section').hidden = false
    if (hours.length === 0) {
      box.append(el('p', 'none', 'No message in this range.'))
      return
    }
    const total = (h) => OUTCOMES.reduce((n, o) => n + (h.recipients[o] ?? 0), 0)
    const max = Math.max(1, ...hours.map(total))
    const width = 720
    const height = 220
    const left = 40
    const bottom = 30
    // Hours are placed by time: an hour without messages is a gap, not skipped.
    const first = hours[0].start
    const span = Math.round((hours[hours.length - 1].start - first) / 3_600_000) + 1
    const slot = (width - left) / span
    const bar = Math.max(4, Math.min(40, slot * 0.7))
    const y = (n) => height - bottom - (n / max) * (height - bottom - 10)
    const picture = svg('svg', {
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `Recipients per hour by state over ${span} hour(s), at most ${max} in one hour`,
      class: 'chart',
    })
    // Hatching for the states that need attention, on top of their colour.
    const hatch = (id, path) =>
      svg(
        'pattern',
        { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse' },
        svg('rect', { width: 6, height: 6, class: `base-${id}` }),
        svg('path', { d: path, class: 'hatch' }),
      )
    picture.append(
      svg(
        'defs',
        {},
        hatch('pat-failed', 'M0,6 L6,0'),
        hatch('pat-delayed', 'M0,3 L6,3'),
        hatch('pat-relayed', 'M3,0 L3,6'),
      ),
    )
    picture.append(svg('line', { x1: left, y1: y(0), x2: width, y2: y(0), class: 'axis' }))
    picture.append(
      svg('text', { x: left - 6, y: y(max) + 4, class: 'tick', 'text-anchor': 'end' }, String(max)),
    )
    picture.append(svg('text', { x: left - 6, y: y(0) + 4, class: 'tick', 'text-anchor': 'end' }, '0'))
    hours.forEach((h, i) => {
      const x = left + Math.round((h.start - first) / 3_600_000) * slot + (slot - bar) / 2
      let base = 0
      for (const o of OUTCOMES) {
        const n = h.recipients[o] ?? 0
        if (n === 0) continue
        const rect = svg('rect', {
          x,
          y: y(base + n),
          width: bar,
          height: y(base) - y(base + n),
          class: `seg seg-${o}`,
        })
        rect.append(svg('title', {}, `${when(h.start)}: ${n} ${o}`))
        picture.append(rect)
        base += n
      }
      if (hours.length <= 24 || i % Math.ceil(hours.length / 12) === 0) {
        const label = new Date(h.start).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
        picture.append(
          svg('text', { x: x + bar / 2, y: height - 10, class: 'tick', 'text-anchor': 'middle' }, label),
        )
      }
    })
    box.append(picture)
    for (const o of OUTCOMES) {
      const n = summary.total.recipients[o] ?? 0
      if (n === 0) continue
      const key = svg('svg', { viewBox: '0 0 14 14', width: 14, height: 14, 'aria-hidden': 'true' })
      key.append(svg('rect', { x: 0, y: 0, width: 14, height: 14, class: `seg seg-${o}` }))
      $('chart-legend').append(el('li', null, key, ` ${o}: ${n}`))
    }
  }

  async function showMessage(txn) {
    problem('')
    try {
      const m = await get(`api/message/${encodeURIComponent(txn)}`)
      const facts = $('detail-header')
      facts.replaceChildren()
      const fact = (name, value) => facts.append(el('dt', null, name), el('dd', null, value ?? '—'))
      fact('Queue ids', m.queueIds.join(', '))
      fact('Arrived', when(m.arrival))
      fact('From', m.from === '' ? '<>' : m.from)
      fact('Message-ID', m.messageId)
      fact('ENVID', m.envid)
      fact('Tracked (MTRK)', m.tracked ? 'yes' : 'no')
      fact('Client', `${m.clientIp ?? '?'} (HELO ${m.helo ?? '?'})`)
      fact('Reporting MTA', m.reportingMta)
      const list = $('detail-recipients')
      list.replaceChildren()
      for (const r of m.recipients) {
        const rows = r.history.map((a) =>
          el(
            'tr',
            null,
            el('td', 'nowrap', when(a.at)),
            el('td', null, stateCell(a.action)),
            el('td', null, a.status),
            el('td', null, a.host ?? ''),
            el('td', 'reply', a.reply ? `${a.code ?? ''} ${a.reply}`.trim() : ''),
          ),
        )
        const head = el(
          'tr',
          null,
          ...['Time', 'State', 'Status', 'Host', 'Reply'].map((t) => el('th', null, t)),
        )
        for (const th of head.children) th.setAttribute('scope', 'col')
        list.append(
          el(
            'article',
            'attempts',
            el('h3', null, r.address, ' ', stateCell(r.action)),
            el(
              'table',
              null,
              el('caption', null, `Attempts for ${r.address}`),
              el('thead', null, head),
              el('tbody', null, ...rows),
            ),
          ),
        )
      }
      $('detail-title').textContent = `Message ${m.txn}`
      $('detail').hidden = false
      $('detail-title').focus()
    } catch (e) {
      problem(e.message)
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('search-form').addEventListener('submit', (ev) => {
      ev.preventDefault()
      params = new URLSearchParams()
      for (const [k, v] of new FormData($('search-form')))
        if (String(v).trim() !== '') params.set(k, String(v).trim())
      cursor = null
      void search(false)
    })
    $('more').addEventListener('click', () => void search(true))
  })
})()
