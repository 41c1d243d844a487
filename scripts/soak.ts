/**
 * `npm run soak`: a bounded fault-injection run in real Chromium against the loopback stand-in.
 *
 * Up to SOAK_ORDERS orders (default 200) are tracked across several tabs while the stand-in answers
 * 5xx, drops connections and hangs, and the tabs navigate away, reload, close and open. Then one tab
 * stays open until every order is delivered or the 2-minute budget runs out. It prints how many
 * orders Trustpilot created (delivered), never (lost) and more than once (duplicated), and exits
 * non-zero if any was lost.
 */
import { type Browser, type BrowserContext, chromium, type Page } from '@playwright/test'
import { findChromium } from '../e2e/support/browsers'
import { startStandIn } from './stand-in'
import { startStaticServer } from './static-server'

const ORDERS = Math.min(200, Number(process.env.SOAK_ORDERS ?? 200))
const BUDGET_MS = 120_000
const TRAFFIC_MS = 75_000
const MAX_TABS = 3

const started = Date.now()
const elapsed = () => Date.now() - started
const pick = <T>(weights: Array<[T, number]>): T => {
  let roll = Math.random() * weights.reduce((sum, [, w]) => sum + w, 0)
  for (const [value, weight] of weights) {
    roll -= weight
    if (roll < 0) return value
  }
  return weights[0]![0]
}

const choice = findChromium()
if ('error' in choice) {
  console.error(choice.error)
  process.exit(1)
}

const site = await startStaticServer('.')
const standIn = await startStandIn()
const settings = { apiKey: 'soak-key', endpoint: standIn.url, timeoutMs: 1_000, debug: !!process.env.SOAK_DEBUG }
const events: string[] = []
const pageIds = new Map<Page, number>()
/** When a page was sent away (navigation, reload, closed tab). */
const deaths: number[] = []
const counts = {
  '5xx': 0,
  resets: 0,
  hangs: 0,
  navigations: 0,
  reloads: 0,
  'tabs opened': 0,
  'tabs closed': 0,
  'tracked twice': 0,
}
let browser: Browser | undefined

const consoleHooked = new WeakSet<Page>()
async function openShop(page: Page) {
  if (process.env.SOAK_DEBUG && !consoleHooked.has(page)) {
    consoleHooked.add(page)
    page.on('console', (m) => events.push(`${elapsed()}: [page ${pageIds.get(page)}] ${m.text()}`))
    pageIds.set(page, pageIds.size)
  }
  await page.goto(`${site.url}/e2e/pages/harness.html`)
  await page.evaluate((s) => (window as any).start({ settings: s }), settings)
}

/** Tracks one order; a page that navigates meanwhile ends the evaluation, which is the point. */
const track = (page: Page, id: string) =>
  page
    .evaluate(
      ([orderId]) =>
        (window as any).analytics.track('Order Completed', {
          order_id: orderId,
          email: `${orderId}@example.com`,
          products: [{ sku: `sku-${orderId}`, name: 'Soak product' }],
        }),
      [id],
    )
    .then(() => true)
    .catch(() => false)

try {
  browser = await chromium.launch({ executablePath: choice.executablePath })
  const context: BrowserContext = await browser.newContext()
  const tabs: Page[] = [await context.newPage()]
  await openShop(tabs[0]!)

  let tracked = 0
  while (tracked < ORDERS && elapsed() < TRAFFIC_MS) {
    standIn.latencyMs = Math.floor(Math.random() * 60)
    const fault = pick<number | 'reset' | 'hang' | undefined>([
      [undefined, 70],
      [500, 15],
      ['reset', 10],
      ['hang', 5],
    ])
    if (fault !== undefined) {
      standIn.faults.push(fault)
      counts[fault === 'reset' ? 'resets' : fault === 'hang' ? 'hangs' : '5xx']++
    }
    const tab = tabs[Math.floor(Math.random() * tabs.length)]!
    const id = `soak-${tracked++}`
    events.push(`${elapsed()}: track ${id} in tab ${tabs.indexOf(tab)}`)
    await track(tab, id)
    if (Math.random() < 0.05) {
      counts['tracked twice']++
      await track(tabs[Math.floor(Math.random() * tabs.length)]!, id)
    }
    // The buyer stays on the thank-you page for a moment (0–600 ms), then maybe leaves.
    await tab.waitForTimeout(Math.random() * 600).catch(() => {})
    const action = pick([
      ['stay', 65],
      ['navigate', 15],
      ['reload', 10],
      ['open tab', 5],
      ['close tab', 5],
    ] as const)
    if (action !== 'stay') events.push(`${elapsed()}: ${action} tab ${tabs.indexOf(tab)}`)
    if (action === 'navigate' || action === 'reload' || (action === 'close tab' && tabs.length > 1))
      deaths.push(Date.now())
    if (action === 'navigate') {
      counts.navigations++
      await tab.goto('about:blank').catch(() => {})
      await openShop(tab)
    } else if (action === 'reload') {
      counts.reloads++
      await tab.reload().catch(() => {})
      await openShop(tab)
    } else if (action === 'open tab' && tabs.length < MAX_TABS) {
      counts['tabs opened']++
      const page = await context.newPage()
      await openShop(page)
      tabs.push(page)
    } else if (action === 'close tab' && tabs.length > 1) {
      counts['tabs closed']++
      tabs.splice(tabs.indexOf(tab), 1)
      await tab.close()
    }
  }

  // Drain: faults stop, a tab stays open, pending invitations go out on their own timers.
  standIn.faults.length = 0
  standIn.latencyMs = 0
  const delivered = () => [...Array(tracked).keys()].filter((i) => standIn.created.has(`soak-${i}`)).length
  while (delivered() < tracked && elapsed() < BUDGET_MS) await new Promise((r) => setTimeout(r, 250))

  const duplicates = [...standIn.created].filter(([, n]) => n > 1).map(([ref]) => ref)
  const duplicated = duplicates.length
  // A duplicate is explained when a page was sent away around the time Trustpilot created the
  // invitation (from 500 ms before, while the request was on its way, to 300 ms after, while the
  // answer was on its way back to a busy page), so that page never heard the 201.
  const explained = duplicates.filter((ref) => {
    const created = standIn.requests.find((r) => r.body.referenceId === ref && r.status === 201)?.at ?? 0
    return deaths.some((t) => t >= created - 500 && t <= created + 300)
  }).length
  const lost = tracked - delivered()
  const pct = (n: number) => `${((100 * n) / Math.max(1, tracked)).toFixed(1)}%`
  console.log(`soak: ${tracked} orders in ${(elapsed() / 1000).toFixed(1)} s, ${tabs.length} tab(s) open at the end`)
  console.log(`  requests to the stand-in: ${standIn.requests.length}`)
  console.log(
    `  faults: ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  )
  console.log(
    `  delivered ${delivered()}/${tracked} (${pct(delivered())})  lost ${lost}  duplicated ${duplicated} (${pct(duplicated)})`,
  )
  console.log(
    `  page deaths: ${deaths.length}; ${explained} of the ${duplicated} duplicate(s) followed a page sent away between Trustpilot creating the invitation and the page hearing it`,
  )
  console.log(
    `  goals: 100% delivered ${lost === 0 ? 'met' : 'MISSED'}; duplicates <= 1% ${duplicated <= tracked / 100 ? 'met' : 'MISSED'}`,
  )
  if (process.env.SOAK_DEBUG) {
    for (const [ref, n] of standIn.created) {
      if (n < 2) continue
      const trail = standIn.requests.filter((r) => r.body.referenceId === ref)
      console.log(ref, trail.map((r) => `${r.at - started}:${r.status}`).join(' '))
    }
    console.log(events.join('\n'))
  }
  process.exitCode = lost > 0 ? 1 : 0
} finally {
  await browser?.close()
  await standIn.close()
  await site.close()
}
