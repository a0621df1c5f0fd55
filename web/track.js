// The tracking page's script: sends the form to api/track, shows each relay as it answers, then one timeline per
// recipient. Every text from the server goes into the page as text (textContent), never as HTML.
;(() => {
  const $ = (id) => document.getElementById(id)
  const csrf = document.querySelector('meta[name="mtrk-csrf"]')?.getAttribute('content') ?? ''

  /** Where a recipient's message is: an icon and a word, so the page reads without its colours. */
  const STATES = {
    delivered: ['✓', 'Delivered', 'The last relay delivered the message, or handed it to a list or alias.'],
    relayed: [
      '↗',
      'Relayed beyond tracking',
      'Passed to a mail system that does not support tracking; nothing more can be learned.',
    ],
    'in-transit': ['◷', 'In transit', 'A relay still holds the message and keeps trying to pass it on.'],
    failed: ['✗', 'Failed', 'A relay gave up: the message will not arrive. The status says why.'],
    unknown: [
      '?',
      'Unknown',
      'Tracking stopped before the end: a relay could not be asked, or knows nothing.',
    ],
  }

  /** What one relay reported (RFC 3886 §3.3). */
  const ACTIONS = {
    delivered: ['✓', 'delivered'],
    transferred: ['→', 'passed on'],
    relayed: ['↗', 'relayed without tracking'],
    expanded: ['⇉', 'expanded to a list'],
    delayed: ['◷', 'queued, retrying'],
    failed: ['✗', 'failed'],
    opaque: ['?', 'not disclosed'],
  }

  /** An element with a class and children (strings become text nodes). */
  function el(tag, className, ...children) {
    const e = document.createElement(tag)
    if (className) e.className = className
    for (const c of children) if (c !== null && c !== undefined) e.append(c)
    return e
  }

  function icon(symbol) {
    const i = el('span', 'icon', symbol)
    i.setAttribute('aria-hidden', 'true')
    return i
  }

  function time(iso) {
    const t = el(
      'time',
      null,
      new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }),
    )
    t.setAttribute('datetime', iso)
    return t
  }

  function show(id, on = true) {
    $(id).hidden = !on
  }

  function problem(text) {
    $('problem').textContent = text
    show('problem', text !== '')
  }

  function server(s) {
    const name = s.name.includes(':') ? `[${s.name}]:${s.port}` : `${s.name}:${s.port}`
    if (s.via === 'local') return name
    const tls =
      s.tls === null
        ? 'no TLS'
        : `${s.tls}${s.verified ? ', certificate verified' : ', certificate not verified'}`
    return `${name} (${tls})`
  }

  function hopText(hop, phase) {
    const where = hop.port === undefined ? hop.host : `${hop.host}:${hop.port}`
    const o = hop.outcome
    if (phase === 'asking' || o === undefined) return ['…', 'asking', `Asking ${where}`]
    if (o.kind === 'answered')
      return [
        '✓',
        'answered',
        `${server(o.server)} answered: ${o.reports} report${o.reports === 1 ? '' : 's'}`,
      ]
    if (o.kind === 'skipped') return ['–', 'skipped', `${where} not asked: ${o.reason}`]
    if (o.failure === 'noinfo') return ['?', 'noinfo', `${where} has no information about this message`]
    return ['✗', 'failed', `${where} could not be asked: ${o.reason}`]
  }

  function showHop(phase, hop) {
    const id = `hop-${hop.id}`
    const [symbol, kind, text] = hopText(hop, phase)
    const li = el('li', `hop hop-${kind}`, icon(symbol), el('span', null, text))
    li.id = id
    const old = $(id)
    if (old) old.replaceWith(li)
    else $('hops').append(li)
  }

  function stateBadge(state) {
    const [symbol, label] = STATES[state] ?? STATES.unknown
    return el('span', `badge state-${state}`, icon(symbol), label)
  }

  function step(s) {
    const [symbol, label] = ACTIONS[s.action] ?? ['?', s.action]
    const body = el(
      'div',
      'step-body',
      el('p', 'mta', s.reportingMta.value),
      el('p', 'action', label),
      el('p', 'when', 'arrived ', time(s.arrivalDate)),
      el('p', 'status', el('code', null, s.status), ` ${s.statusText}`),
    )
    if (s.statusComment !== undefined)
      body.append(el('p', 'reply', 'Reply: ', el('q', null, s.statusComment)))
    if (s.remoteMta !== undefined) body.append(el('p', 'to', `to ${s.remoteMta.value}`))
    if (s.lastAttemptDate !== undefined)
      body.append(el('p', 'when', 'last attempt ', time(s.lastAttemptDate)))
    if (s.willRetryUntil !== undefined)
      body.append(el('p', 'when', 'retrying until ', time(s.willRetryUntil)))
    return el('li', `step action-${s.action}`, el('span', 'dot', icon(symbol)), body)
  }

  function recipient(t) {
    const steps = el('ol', 'timeline', ...t.steps.map(step))
    steps.setAttribute('aria-label', `Relays that reported on ${t.recipient.value}`)
    return el(
      'article',
      `card recipient state-${t.state}`,
      el('h3', null, el('span', 'address', t.recipient.value), stateBadge(t.state)),
      steps,
      el('p', 'end', el('strong', null, 'Tracking stops: '), `${t.end}.`),
    )
  }

  function showReport(r) {
    const summary = $('summary')
    const list = $('recipients')
    summary.replaceChildren()
    list.replaceChildren()
    if (r.recipients.length === 0) {
      const nothing = el('div', 'card nothing state-unknown')
      nothing.id = 'nothing'
      if (r.failure?.failure === 'noinfo') {
        nothing.append(
          el('h3', null, stateBadge('unknown'), ' No information about this message'),
          el(
            'p',
            null,
            'The tracking server knows no message with this envid and secret. Check the link (or the envid and ' +
              'the secret); relays keep tracking data only for the time asked when the message was sent.',
          ),
        )
      } else {
        nothing.append(
          el('h3', null, stateBadge('unknown'), ' Nothing is known'),
          el('p', null, r.failure?.reason ?? 'no server answered'),
        )
      }
      summary.append(nothing)
    } else {
      summary.append(el('p', 'overall', 'Message ', el('code', null, r.envid), ': ', stateBadge(r.state)))
      list.append(...r.recipients.map(recipient))
    }
    show('result')
    $('result-title').focus()
  }

  function fillLegend() {
    const dl = $('legend')
    for (const state of Object.keys(STATES)) {
      const [, , meaning] = STATES[state]
      dl.append(el('dt', null, stateBadge(state)), el('dd', null, meaning))
    }
  }

  function handle(e) {
    if (e.event === 'hop') showHop(e.phase, e.hop)
    else if (e.event === 'report') showReport(e.report)
    else if (e.event === 'error') problem(e.error)
  }

  async function track(body) {
    problem('')
    show('result', false)
    $('hops').replaceChildren()
    show('progress')
    const button = $('track-button')
    button.disabled = true
    button.textContent = 'Tracking…'
    try {
      const res = await fetch('api/track', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-MTRK-CSRF': csrf },
        body: JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
        referrerPolicy: 'no-referrer',
      })
      if (!res.ok) {
        const data = await res.json().catch(() => ({}))
        problem(data.error ?? `The server answered ${res.status}.`)
        return
      }
      const reader = res.body.getReader()
      const decoder = new TextDecoder()
      let buffered = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffered += decoder.decode(value, { stream: true })
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl)
          buffered = buffered.slice(nl + 1)
          if (line !== '') handle(JSON.parse(line))
        }
      }
    } catch {
      problem('The tracking server of this page could not be reached, or its answer was cut off.')
    } finally {
      button.disabled = false
      button.textContent = 'Track message'
    }
  }

  function formBody() {
    const uri = $('uri').value.trim()
    if (uri !== '') return { uri }
    return { envid: $('envid').value.trim(), secret: $('secret').value.trim() }
  }

  document.addEventListener('DOMContentLoaded', () => {
    fillLegend()
    $('track-form').addEventListener('submit', (ev) => {
      ev.preventDefault()
      void track(formBody())
    })
    // A link may carry the tracking URI in its fragment (never sent to any server): take it, then drop it from
    // the address bar and history.
    const fragment = decodeURIComponent(location.hash.slice(1)).replace(/^uri=/, '')
    if (fragment.startsWith('mtqp://')) {
      history.replaceState(null, '', location.pathname)
      $('uri').value = fragment
      void track({ uri: fragment })
    }
  })
})()
