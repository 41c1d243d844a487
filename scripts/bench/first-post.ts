/**
 * Measure 6 of `npm run bench`: time from `analytics.track('Order Completed')` to the order's first
 * POST at the stand-in, on a thank-you page where every request takes a 100 ms round trip, the
 * plugin's own files included. On loopback (measure 3) importing the delivery module costs a few ms;
 * on a real network it costs a round trip to the CDN, which is what the checkout-event prefetch is
 * for. Three cases, on the same thank-you page (the harness), SAMPLES fresh browser contexts each:
 *
 * 1. module cold: nothing cached, no checkout event before: the order imports dist/delivery.js, then
 *    the request pays the CORS preflight, then the POST leaves.
 * 2. prefetched: the page before (the same harness, as a checkout page) tracks `Checkout Started`,
 *    which starts the delivery module's import; once it is loaded the tab goes on to the thank-you
 *    page. dist/ is served with the cache headers a CDN sends for versioned files (CDN_CACHE), so the
 *    thank-you page takes the plugin's files from the HTTP cache: a sample counts only if no request
 *    for dist/delivery.js reached the server from the thank-you page.
 * 3. transport 'script', cold: the plugin hands the order to the tp.min.js stand-in
 *    (e2e/pages/tp-stand-in.js, served by the stand-in as Trustpilot serves its script), which loads,
 *    frames its simplicity page (on its own origin, with the same round trip) and only then posts:
 *    the README's `api` or `script` comparison, measured on today's files.
 *
 * The round trip: every answer of the servers this measure starts waits ROUND_TRIP_MS: the shop's
 * files through a delaying proxy in front of the static server, the stand-in's preflight, script,
 * simplicity page and POSTs through its `roundTripMs`. The stand-in notes a request when it arrives
 * (before its answer waits), the page notes Date.now() just before `track`: both read the same clock.
 * Every page calls analytics.page() first, as a shop's page does (see measure 3). Each order is left
 * to be created before its context closes, so no retry spills into the next sample.
 */
import { createServer, request as forward, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { BrowserContext, Page } from '@playwright/test'
import { type StandIn, startStandIn } from '../stand-in'
import { type StaticServer, startStaticServer } from '../static-server'
import { type Env, HARNESS, type Measured, median, ms, notMeasured, orderProperties, type Row, waitFor } from './shared'

const ROUND_TRIP_MS = 100
/** Samples (fresh browser contexts) per case: the README's earlier figure was a median of 10. */
const SAMPLES = 10
/** What a CDN sends with a versioned file: cache it for a year, never revalidate. */
const CDN_CACHE = 'public, max-age=31536000, immutable'
const DELIVERY_PATH = '/dist/delivery.js'

type Case = 'cold' | 'prefetched' | 'script'

/** A proxy that holds every request `delayMs` before passing it on, counting requests by path. */
async function startDelayingProxy(target: string, delayMs: number) {
  const hits = new Map<string, number>()
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', target).pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    setTimeout(() => {
      const upstream = forward(`${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      upstream.on('error', () => res.destroy())
      req.pipe(upstream)
    }, delayMs)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: (path: string) => hits.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Opens the harness at `origin` on `page` as a shop's page: plugin started, then a page(). */
async function openThankYou(page: Page, origin: string, settings: Record<string, unknown>) {
  await page.goto(`${origin}${HARNESS}`)
  await page.evaluate((options) => (window as any).start(options), { via: 'module', settings })
  await page.evaluate(() => (window as any).analytics.page())
}

/** Tracks one order; milliseconds from `track` to its first POST at the stand-in. */
async function timeFirstPost(page: Page, standIn: StandIn, id: string): Promise<number> {
  const t0 = await page.evaluate(
    async (properties) => {
      const started = Date.now()
      await (window as any).analytics.track('Order Completed', properties)
      return started
    },
    orderProperties(id, 2),
  )
  const first = await waitFor(
    `the first POST of order ${id}`,
    () => standIn.requests.find((r) => r.body.referenceId === id),
    10_000,
  )
  await waitFor(`the creation of order ${id}`, () => (standIn.created.has(id) ? true : undefined), 10_000)
  return first.at - t0
}

/** Waits until the plugin's own import of the delivery module is loaded and evaluated (see measure 3). */
const waitForDeliveryModule = (page: Page) =>
  page.evaluate(async (path) => {
    const deadline = Date.now() + 10_000
    let entry: PerformanceEntry | undefined
    while (!entry) {
      entry = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === path)
      if (!entry && Date.now() > deadline) throw new Error(`${path} was not fetched after Checkout Started`)
      if (!entry) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await import(entry.name)
    await new Promise((resolve) => setTimeout(resolve, 0))
  }, DELIVERY_PATH)

export async function measureFirstPost(env: Env): Promise<Measured> {
  let standIn: StandIn | undefined
  let site: StaticServer | undefined
  let proxy: Awaited<ReturnType<typeof startDelayingProxy>> | undefined
  let context: BrowserContext | undefined
  const samples: Record<Case, number[]> = { cold: [], prefetched: [], script: [] }
  /** Samples left out, by case and why: they did not measure the case they were taken for. */
  const discarded = new Map<string, number>()
  const discard = (why: string) => discarded.set(why, (discarded.get(why) ?? 0) + 1)
  try {
    standIn = await startStandIn()
    standIn.roundTripMs = ROUND_TRIP_MS
    site = await startStaticServer('.', 0, {
      headers: (url) => (url.pathname.startsWith('/dist/') ? { 'Cache-Control': CDN_CACHE } : undefined),
    })
    proxy = await startDelayingProxy(site.url, ROUND_TRIP_MS)
    const api = { apiKey: 'bench-key', endpoint: standIn.url }
    const cases: Array<[Case, Record<string, unknown>]> = [
      ['cold', api],
      ['prefetched', api],
      ['script', { ...api, transport: 'script' }],
    ]
    for (let i = 0; i < SAMPLES; i++) {
      // Interleaved, so drift of the machine hits every case alike.
      for (const [which, settings] of cases) {
        context = await env.browser.newContext()
        const page = await context.newPage()
        if (which === 'prefetched') {
          await openThankYou(page, proxy.url, settings)
          await page.evaluate(() => (window as any).analytics.track('Checkout Started'))
          await waitForDeliveryModule(page)
        }
        const fetchedBefore = proxy.hits(DELIVERY_PATH)
        await openThankYou(page, proxy.url, settings)
        const latency = await timeFirstPost(page, standIn, `first-post-${which}-${Date.now()}-${i}`)
        const fetched = proxy.hits(DELIVERY_PATH) - fetchedBefore
        // Cold must fetch the module for the order; prefetched must not (it came from the cache).
        if (which === 'prefetched' && fetched > 0) discard(`${which}: delivery.js not from the cache`)
        else if (which !== 'prefetched' && fetched === 0) discard(`${which}: delivery.js not fetched for the order`)
        else samples[which].push(latency)
        await context.close()
        context = undefined
      }
    }
  } finally {
    await context?.close()
    await proxy?.close()
    await site?.close()
    await standIn?.close()
  }

  const metric = (label: string) => `track -> first POST, ${ROUND_TRIP_MS} ms round trips: ${label} (median)`
  const row = (which: Case, label: string): Row => {
    const values = samples[which]
    return values.length
      ? {
          metric: metric(label),
          result: `${ms(median(values), 0)} (n=${values.length}, ${Math.min(...values)}-${Math.max(...values)} ms)`,
          goal: '',
        }
      : notMeasured(metric(label), '', `0 of ${SAMPLES} samples`)
  }
  return {
    rows: [
      row('cold', 'module cold'),
      row('prefetched', 'prefetched by Checkout Started, CDN cache'),
      row('script', "transport 'script' (tp.min.js stand-in), cold"),
    ],
    note: `6: every answer of the shop's server (a proxy holding each request ${ROUND_TRIP_MS} ms), of the stand-in (preflight, tp.min.js, POSTs) and of the simplicity page waits ${ROUND_TRIP_MS} ms; dist/ served with "Cache-Control: ${CDN_CACHE}"; ${SAMPLES} fresh contexts per case, interleaved. Per order ms: cold ${samples.cold.join(' ')}; prefetched ${samples.prefetched.join(' ')}; script ${samples.script.join(' ')}.${discarded.size ? ` Left out: ${[...discarded].map(([why, n]) => `${n} ${why}`).join('; ')}.` : ''}`,
  }
}
