/**
 * The example shop's script: analytics-next with the Trustpilot plugin, as a shop would set it up.
 * Placing an order tracks `Order Completed`. The right-hand panel shows what reached Trustpilot (or
 * the local stand-in), the outcomes the plugin reports, and what it keeps in storage until Trustpilot
 * has it. The controls make the buyer leave, open a second tab or run a content blocker, make the
 * stand-in fail, and send either straight to Trustpilot or through the shop's relay, so the plugin's
 * guarantees can be watched rather than taken on trust.
 */
import { AnalyticsBrowser } from '@segment/analytics-next'
import { onTrustpilotOutcome, trustpilot } from 'analytics-plugin-trustpilot'

interface ExampleConfig {
  apiKey: string
  /** The local stand-in's URL: Trustpilot's endpoint, sent to straight. Unset for the real Trustpilot. */
  standIn?: string
  /** Where this origin serves the relay (`analytics-plugin-trustpilot/relay`): the endpoint through it. */
  relay: string
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const clock = (at: number) => new Date(at).toLocaleTimeString()

function item(list: HTMLElement, title: string, cls: string, detail?: unknown) {
  const li = document.createElement('li')
  const head = document.createElement('span')
  head.className = cls
  head.textContent = title
  li.append(head)
  if (detail !== undefined) {
    const details = document.createElement('details')
    const summary = document.createElement('summary')
    summary.textContent = 'request body'
    const pre = document.createElement('pre')
    pre.textContent = JSON.stringify(detail, null, 2)
    details.append(summary, pre)
    li.append(details)
  }
  list.append(li)
  return li
}

const config: ExampleConfig = await fetch('/config.json').then((r) => r.json())

// The route is the page's: `?route=relay` sends through the relay, anything else straight to
// Trustpilot. The plugin takes its endpoint once, when it is registered; so the switch reloads.
type Route = 'direct' | 'relay'
const route: Route = new URLSearchParams(location.search).get('route') === 'relay' ? 'relay' : 'direct'
const endpoint = route === 'relay' ? config.relay : config.standIn
const trustpilotSide = config.standIn
  ? `a local Trustpilot stand-in at ${config.standIn}`
  : 'the real Trustpilot (TRUSTPILOT_API_KEY is set)'
$('mode').textContent =
  route === 'relay'
    ? `Invitations go through the shop's relay at ${config.relay} to ${trustpilotSide}`
    : `Invitations go straight to ${trustpilotSide}`
$('direct-endpoint').textContent = config.standIn ?? 'https://invitejs.trustpilot.com'
const routeInputs = [...document.querySelectorAll<HTMLInputElement>('#route input')]
for (const input of routeInputs) input.checked = input.value === route
$('route').addEventListener('change', (event) => {
  const next = new URL(location.href)
  if ((event.target as HTMLInputElement).value === 'relay') next.searchParams.set('route', 'relay')
  else next.searchParams.delete('route')
  // What waits in storage is the shop's, not the route's: the next page sends it its own way.
  location.assign(next)
})
// The one line the page itself logs: the browser test checks it sees it, so it knows its console
// collector works when it finds no errors.
console.info(`Example shop loaded: ${$('mode').textContent}`)

// Analytics runs offline here (settings given, Segment.io off): the example is about Trustpilot.
const analytics = AnalyticsBrowser.load(
  {
    writeKey: 'example-write-key',
    cdnSettings: { integrations: {}, metrics: { sampleRate: 0 } } as never,
    plugins: [trustpilot({ apiKey: config.apiKey, ...(endpoint ? { endpoint } : {}) })],
  },
  { integrations: { 'Segment.io': false } },
)

onTrustpilotOutcome(analytics, (outcome) =>
  item(
    $('outcomes'),
    `${clock(Date.now())} ${outcome.status} · ${outcome.referenceId ?? '—'}: ${outcome.reason}`,
    `status-${outcome.status}`,
  ),
)

// ── What Trustpilot receives ────────────────────────────────────────────────────────────────────
// With the stand-in, the server streams each request it received and what it answered (and which
// way it came: from the browser or from the relay, with the Origin Trustpilot saw), each request
// the buyer's blocker stopped, each answer the relay gave itself, and each change of the controls;
// it replays everything so far on connecting, so a reloaded page or a second tab tells the whole
// story.
const MEANING: Record<string, string> = {
  202: 'send again with products',
  201: 'created',
  503: 'unavailable (retried)',
  251: 'domain blocked (given up)',
  400: 'bad request (given up)',
}
const modeInputs = [...document.querySelectorAll<HTMLInputElement>('#trustpilot-mode input')]
const modeLabel = (mode: string) =>
  modeInputs.find((input) => input.value === mode)?.parentElement?.textContent?.trim() ?? mode
/** A path as the page shows it: the key is the page's own, so it is left out. */
const shortPath = (path: string) => path.replace(/^\/api\/[^/]+\//, '/api/…/')
const blocker = $<HTMLInputElement>('blocker')

/** The line under a request: the way it came, and the Origin Trustpilot saw (the relay forwards the shop's). */
function routeNote(li: HTMLElement, route: Route, origin: string | undefined) {
  const note = document.createElement('span')
  note.className = `route route-${route}`
  const from = origin ? `Origin ${origin}` : 'no Origin'
  note.textContent =
    route === 'relay'
      ? `from the shop's server · ${from}: the shop's, forwarded by the relay`
      : `from the buyer's browser · ${from}`
  li.dataset.route = route
  li.dataset.origin = origin ?? ''
  li.insertBefore(note, li.querySelector('details'))
}

function showWireEvent(event: Record<string, any>) {
  const at = clock(event.at)
  if (event.kind === 'mode') item($('wire'), `${at} Trustpilot's side: ${modeLabel(event.mode)}`, 'mode-change')
  else if (event.kind === 'blocker') {
    item($('wire'), `${at} The buyer's content blocker: ${event.on ? 'on' : 'off'}`, 'mode-change')
  } else if (event.kind === 'stopped') {
    const what = event.method === 'OPTIONS' ? 'OPTIONS (the CORS preflight of a POST)' : event.method
    const title = `${at} ✕ ${what} ${shortPath(event.path)}: stopped in the browser by the buyer's content blocker, never arrived`
    item($('wire'), title, 'stopped').classList.add('stopped')
  } else if (event.kind === 'relay') {
    const title = `${at} The shop's relay answered ${event.status} itself: ${event.reason}`
    item($('wire'), title, `status-${event.status}`).classList.add('relay-own')
  } else {
    const title = `${at} POST /api/…/invitation → ${event.status} ${MEANING[event.status] ?? ''}`
    const li = item($('wire'), title, `status-${event.status}`, event.body)
    li.classList.add('request')
    routeNote(li, event.route, event.origin)
  }
}

if (config.standIn) {
  const events = new EventSource('/stand-in/events')
  // A reconnect replays the story from the start.
  events.onopen = () => $('wire').replaceChildren()
  events.onmessage = (message) => showWireEvent(JSON.parse(message.data))
  events.addEventListener('mode', (message) => {
    const state = JSON.parse((message as MessageEvent).data)
    for (const input of modeInputs) input.checked = input.value === state.mode
    $<HTMLFieldSetElement>('trustpilot-mode').disabled = false
    blocker.checked = state.blocker
    blocker.disabled = false
  })
  // The stand-in lives in the server: the page asks it to change, and every tab hears the change.
  $('trustpilot-mode').addEventListener('change', (event) => {
    const mode = (event.target as HTMLInputElement).value
    void fetch('/stand-in/mode', { method: 'POST', body: JSON.stringify({ mode }) })
  })
  blocker.addEventListener('change', () => {
    void fetch('/stand-in/blocker', { method: 'POST', body: JSON.stringify({ on: blocker.checked }) })
  })
} else {
  $('wire-hint').textContent = 'Requests go to Trustpilot itself; see the outcomes below.'
  $('trustpilot-mode').hidden = true
  // The buyer's own blocker, if this browser runs one, is the real thing here.
  $('blocker-control').hidden = true
}

// ── Waiting in storage ──────────────────────────────────────────────────────────────────────────
// Read here only to show it: a shop never needs to. The format is the plugin's (src/store.ts,
// src/inbox.ts): a pending invitation per order, an order kept before the delivery module loaded,
// and a small tombstone per delivered order that makes a repeat of it a skip.
const PREFIX = `analytics-plugin-trustpilot:${encodeURIComponent(config.apiKey)}`

/** "4 s", "3 min". */
function duration(ms: number) {
  const s = Math.round(Math.abs(ms) / 1_000)
  return s < 90 ? `${s} s` : `${Math.round(s / 60)} min`
}
/** "in 4 s", "12 s ago". */
const relative = (ms: number) => (ms >= 0 ? `in ${duration(ms)}` : `${duration(ms)} ago`)

interface Pending {
  invitation: { body: { referenceId: string } }
  step: 'invite' | 'products'
  attempts: number
  nextAt: number
  lease?: { until: number }
}

function describeRecord(key: string, raw: string, now: number): { order: string; state: string; text: string } {
  const record = JSON.parse(raw)
  if (key.startsWith(`${PREFIX}/order:`)) {
    // Kept under analytics-next's messageId; the order's own id is inside.
    const order = String(record.event?.properties?.order_id ?? 'an order')
    return { order, state: 'kept', text: 'order kept: the delivery module has not taken it yet' }
  }
  const order = decodeURIComponent(key.slice(key.lastIndexOf(':') + 1))
  if ('sent' in record) {
    return { order, state: 'sent', text: `delivered ${relative(record.sent - now)}; kept so a repeat is skipped` }
  }
  const entry = record as Pending
  const parts = [`step ${entry.step}`, `attempts ${entry.attempts}`]
  // A lease is "a page is sending this, keep off until …"; a page that has gone holds it for 2 s only.
  if (entry.lease && entry.lease.until > now)
    parts.push(`a page is sending it (leased for ${duration(entry.lease.until - now)} at most)`)
  else parts.push(entry.nextAt > now ? `next retry ${relative(entry.nextAt - now)}` : 'due now')
  return { order, state: 'pending', text: parts.join(' · ') }
}

function showStorage() {
  const now = Date.now()
  const rows: Array<ReturnType<typeof describeRecord>> = []
  for (let i = 0; i < localStorage.length; i++) {
    const key = localStorage.key(i) as string
    if (!key.startsWith(PREFIX)) continue
    try {
      rows.push(describeRecord(key, localStorage.getItem(key) as string, now))
    } catch {
      // Removed between key() and getItem(), or not JSON: the plugin drops such a record itself.
    }
  }
  // What still waits first; then the latest deliveries.
  const rank = { kept: 0, pending: 0, sent: 1 }
  rows.sort((a, b) => rank[a.state as keyof typeof rank] - rank[b.state as keyof typeof rank])
  const list = $('storage')
  list.replaceChildren()
  for (const row of rows.slice(0, 8)) {
    const li = item(list, `${row.order}: ${row.text}`, `stored-${row.state}`)
    li.dataset.order = row.order
    li.dataset.state = row.state
  }
  if (!rows.length) item(list, 'Nothing stored.', 'hint')
}
// Relative times change every second; other tabs' writes arrive as `storage` events at once.
showStorage()
setInterval(showStorage, 500)
addEventListener('storage', showStorage)

// ── The buyer ───────────────────────────────────────────────────────────────────────────────────
function placeOrder() {
  const form = new FormData($<HTMLFormElement>('checkout'))
  const orderId = `order-${Date.now().toString(36)}`
  $('status').textContent = `Thank you! Order ${orderId} placed.`
  const tracked = analytics.track('Order Completed', {
    order_id: orderId,
    email: form.get('email'),
    name: form.get('name'),
    surname: form.get('surname'),
    total: 25,
    currency: 'USD',
    products: [
      {
        product_id: '507f1f77bcf86cd799439011',
        sku: '45790-32',
        name: 'Monopoly: 3rd Edition',
        price: 19,
        quantity: 1,
        category: 'Games',
        url: 'https://www.example.com/product/path',
        image_url: 'https://www.example.com/product/path.jpg',
      },
      {
        product_id: '505bd76785ebb509fc183733',
        sku: '46493-32',
        name: 'Uno Card Game',
        price: 3,
        quantity: 2,
        category: 'Games',
      },
    ],
  })
  return { orderId, tracked }
}

$<HTMLFormElement>('checkout').addEventListener('submit', (event) => {
  event.preventDefault()
  placeOrder()
})

// The classic checkout redirect: the page goes the moment `track` resolves. That is the promise the
// plugin makes (the order is stored, and its first request is on the wire, by then), so the next
// page, or Trustpilot receiving the keepalive request, finishes the delivery.
$('order-and-leave').addEventListener('click', async () => {
  const { orderId, tracked } = placeOrder()
  await tracked
  sessionStorage.setItem('example-left', orderId)
  location.reload()
})
const left = sessionStorage.getItem('example-left')
if (left) {
  sessionStorage.removeItem('example-left')
  $('status').textContent = `You left right after ordering ${left}. This page finishes what that one left undone.`
}

$('second-tab').addEventListener('click', () => open(location.href, '_blank'))

// Ready: the buttons were disabled in the HTML so that nothing is clicked before this script is.
for (const id of ['place-order', 'order-and-leave', 'second-tab']) $<HTMLButtonElement>(id).disabled = false
