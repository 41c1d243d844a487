/**
 * The example shop's script: analytics-next with the Trustpilot plugin, as a shop would set it up.
 * Placing an order tracks `Order Completed`; the right-hand panel shows what reached Trustpilot (or
 * the local stand-in) and the outcomes the plugin reports.
 */
import { AnalyticsBrowser } from '@segment/analytics-next'
import { type TrustpilotOutcome, trustpilot } from 'analytics-plugin-trustpilot'

interface ExampleConfig {
  apiKey: string
  /** Set when the example runs against the local stand-in; unset for the real Trustpilot. */
  endpoint?: string
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

function item(list: HTMLElement, title: string, cls: string, detail?: unknown) {
  const li = document.createElement('li')
  const head = document.createElement('span')
  head.className = cls
  head.textContent = title
  li.append(head)
  if (detail !== undefined) {
    const pre = document.createElement('pre')
    pre.textContent = JSON.stringify(detail, null, 2)
    li.append(pre)
  }
  list.append(li)
}

const config: ExampleConfig = await fetch('/config.json').then((r) => r.json())

$('mode').textContent = config.endpoint
  ? `Invitations go to a local Trustpilot stand-in at ${config.endpoint}`
  : 'Invitations go to the real Trustpilot (TRUSTPILOT_API_KEY is set)'

// Analytics runs offline here (settings given, Segment.io off): the example is about Trustpilot.
const analytics = AnalyticsBrowser.load(
  {
    writeKey: 'example-write-key',
    cdnSettings: { integrations: {}, metrics: { sampleRate: 0 } } as never,
    plugins: [trustpilot({ apiKey: config.apiKey, ...(config.endpoint ? { endpoint: config.endpoint } : {}) })],
  },
  { integrations: { 'Segment.io': false } },
)

// Outcomes: emitted by the plugin on analytics as 'trustpilot'.
;(analytics as unknown as { on(e: string, cb: (o: TrustpilotOutcome) => void): void }).on('trustpilot', (outcome) =>
  item(
    $('outcomes'),
    `${outcome.status} · ${outcome.referenceId ?? '—'}: ${outcome.reason}`,
    `status-${outcome.status}`,
  ),
)

// With the stand-in, the server streams each request it received and what it answered.
if (config.endpoint) {
  const events = new EventSource('/stand-in/events')
  events.onmessage = (message) => {
    const record = JSON.parse(message.data) as { status: number | string; body: Record<string, unknown> }
    const meaning = record.status === 202 ? 'send again with products' : record.status === 201 ? 'created' : ''
    item($('wire'), `POST /api/…/invitation → ${record.status} ${meaning}`, `status-${record.status}`, record.body)
  }
} else {
  $('wire-hint').textContent = 'Requests go straight to Trustpilot; see the outcomes below.'
}

$<HTMLFormElement>('checkout').addEventListener('submit', (event) => {
  event.preventDefault()
  const form = new FormData(event.target as HTMLFormElement)
  const orderId = `order-${Date.now().toString(36)}`
  void analytics.track('Order Completed', {
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
  $('status').textContent = `Thank you! Order ${orderId} placed.`
})
