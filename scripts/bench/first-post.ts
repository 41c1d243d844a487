/**
 * Measure 6 of `npm run bench`: time from `analytics.track('Order Completed')` to the moment
 * Trustpilot (the stand-in) receives the order's first POST, on a thank-you page with a network
 * between the browser and every server, the plugin's own files included. On loopback (measure 3)
 * importing the delivery module costs a few ms; on a real network it costs a round trip to the CDN,
 * which is what the checkout-event prefetch is for, and a request to Trustpilot's own host costs new
 * connections and a CORS preflight, which is what posting to the shop's own origin saves. Five cases,
 * on the same thank-you page (the harness), SAMPLES fresh browser contexts each:
 *
 * 1. direct, module cold: nothing cached, no checkout event before: the order imports
 *    dist/delivery.js, then the request pays the CORS preflight, then the POST leaves; each on a
 *    connection of its own to Trustpilot (Chromium sends the preflight without credentials and the
 *    credentialed POST on another connection), each new.
 * 2. direct, prefetched: the page before (the same harness, as a checkout page) tracks
 *    `Checkout Started`, which starts the delivery module's import; once it is loaded the tab goes on
 *    to the thank-you page. dist/ is served with the cache headers a CDN sends for versioned files
 *    (CDN_CACHE), so the thank-you page takes the plugin's files from the HTTP cache: a sample counts
 *    only if no request for dist/delivery.js reached the server from the thank-you page.
 * 3, 4. through the relay, module cold and prefetched: as 1 and 2 with `endpoint: '/trustpilot'`, the
 *    shop's own origin, where dist/relay.js (`trustpilotRelay` under `toNodeHandler`, as a shop mounts
 *    it on node:http) forwards to the stand-in. Same-origin: no preflight, and the POST goes on the
 *    connection the page came on; the relay then opens its own connection to Trustpilot.
 * 5. transport 'script', cold: the plugin hands the order to the tp.min.js stand-in
 *    (e2e/pages/tp-stand-in.js, served by the stand-in as Trustpilot serves its script), which loads,
 *    frames its simplicity page (on its own origin) and only then posts: the README's `api` or
 *    `script` comparison, measured on today's files.
 *
 * One latency model for every case (test/support/link.ts), applied by the servers themselves: BROWSER_LINK
 * between the browser and each server it talks to (the shop's origin, serving dist/ and the relay;
 * the stand-in; the simplicity page), RELAY_LINK between the relay and the stand-in it forwards to (a
 * second stand-in, so that the rows can't take each other's POSTs). A server holds each request
 * `oneWayMs` before it sees it and each answer `oneWayMs` before it leaves; a new connection first
 * costs its handshakes, a kept-alive one nothing. So what a buyer's browser meets: the connections to
 * the shop's origin are open (the page came on them), those to Trustpilot are not (a fresh context
 * each sample: no connection, no cached preflight, as for a buyer's first order), and the relay's
 * connection to Trustpilot is closed before each sample (invitations come minutes apart, longer than a
 * keep-alive lasts), so each relayed POST pays its handshakes too. A sample counts only if the
 * direct POST paid a preflight and the relayed one none.
 *
 * The stand-in notes a request once it has come across its link, the page notes Date.now() just
 * before `track`: both read the same clock. Every page calls analytics.page() first, as a shop's page
 * does (see measure 3). Each order is left to be created before its context closes, so no retry
 * spills into the next sample. A sample whose POST never reached the stand-in is left out and named in
 * the note; a case left with no sample is "not measured", and so is its ratio: the bench exits 1.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { BrowserContext, Page } from '@playwright/test'
import type * as Relay from '../../src/server/relay'
import type { Link } from '../../test/support/link'
import { type StandIn, startStandIn } from '../../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../../test/support/static-server'
import { type Env, HARNESS, type Measured, median, ms, notMeasured, orderProperties, type Row, waitFor } from './shared'

/**
 * Round trips a new connection costs before its first request: TCP, then TLS 1.3. BENCH_HANDSHAKES=0
 * npm run bench leaves them out (every connection as if already open), to see what the rows owe them.
 */
const HANDSHAKES = handshakes(process.env.BENCH_HANDSHAKES)
/** Between the browser and any server: the shop's origin (its CDN and relay alike) and Trustpilot. */
const BROWSER_LINK: Link = { oneWayMs: 50, handshakeRoundTrips: HANDSHAKES }
/** Between the relay, on the shop's server, and Trustpilot: a data centre's short hop. */
const RELAY_LINK: Link = { oneWayMs: 10, handshakeRoundTrips: HANDSHAKES }
/** The goals: through the relay at most this share of the direct time. */
const GOAL_COLD = 0.7
const GOAL_PREFETCHED = 0.5
/** Samples (fresh browser contexts) per case: the README's earlier figure was a median of 10. */
const SAMPLES = 10
/** How long a sample waits for its first POST before it is left out: the slowest case takes ~1.5 s. */
const FIRST_POST_TIMEOUT_MS = 5_000
/** What a CDN sends with a versioned file: cache it for a year, never revalidate. */
const CDN_CACHE = 'public, max-age=31536000, immutable'
const DELIVERY_PATH = '/dist/delivery.js'
/** Where the shop mounts the relay: the plugin's `endpoint`. */
const RELAY_PATH = '/trustpilot'
const API_KEY = 'bench-key'

function handshakes(value: string | undefined): number {
  if (value === undefined) return 2
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new Error(`BENCH_HANDSHAKES must be a whole number of round trips, not ${JSON.stringify(value)}`)
  }
  return n
}

type Case = 'cold' | 'prefetched' | 'relay cold' | 'relay prefetched' | 'script'
interface CaseSpec {
  name: Case
  settings: Record<string, unknown>
  prefetched: boolean
  relayed: boolean
}

/** Opens the harness at `origin` on `page` as a shop's page: plugin started, then a page(). */
async function openThankYou(page: Page, origin: string, settings: Record<string, unknown>) {
  await page.goto(`${origin}${HARNESS}`)
  await page.evaluate((options) => (window as any).start(options), { via: 'module', settings })
  await page.evaluate(() => (window as any).analytics.page())
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

/** "2 (10)", "1 (9), 2 (1)": how often each value came. */
const tally = (values: number[]) => {
  const counts = new Map<number, number>()
  for (const value of [...values].sort((a, b) => a - b)) counts.set(value, (counts.get(value) ?? 0) + 1)
  return [...counts].map(([value, n]) => `${value} (${n})`).join(', ') || 'none'
}

export async function measureFirstPost(env: Env): Promise<Measured> {
  let standIn: StandIn | undefined
  let upstream: StandIn | undefined
  let shop: StaticServer | undefined
  let context: BrowserContext | undefined
  const samples: Record<Case, number[]> = {
    cold: [],
    prefetched: [],
    'relay cold': [],
    'relay prefetched': [],
    script: [],
  }
  /** Per counted sample: connections opened to the stand-in it posted to, up to its first POST. */
  const connections: Record<Case, number[]> = {
    cold: [],
    prefetched: [],
    'relay cold': [],
    'relay prefetched': [],
    script: [],
  }
  /** Samples left out, by case and why: they did not measure the case they were taken for. */
  const discarded = new Map<string, number>()
  const discard = (why: string) => discarded.set(why, (discarded.get(why) ?? 0) + 1)
  /** At the shop's origin: requests by path and method, and whether each relayed POST came on a new connection. */
  const hits = new Map<string, number>()
  const hit = (key: string) => hits.get(key) ?? 0
  const relayedOn = { kept: 0, fresh: 0 }
  try {
    standIn = await startStandIn()
    standIn.link = BROWSER_LINK
    upstream = await startStandIn()
    upstream.link = RELAY_LINK
    // The relay as built (dist/relay.js, the package's `./relay` export), typed by its source.
    const { trustpilotRelay, toNodeHandler } = (await import(
      new URL('../../dist/relay.js', import.meta.url).href
    )) as typeof Relay
    let relay: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined
    shop = await startStaticServer('.', 0, {
      link: BROWSER_LINK,
      headers: (url) => (url.pathname.startsWith('/dist/') ? { 'Cache-Control': CDN_CACHE } : undefined),
      handle: (url, res, req, arrival) => {
        const key = `${req.method} ${url.pathname}`
        hits.set(key, hit(key) + 1)
        if (!url.pathname.startsWith(`${RELAY_PATH}/`) || !relay) return false
        if (req.method === 'POST') relayedOn[arrival?.newConnection ? 'fresh' : 'kept']++
        void relay(req, res)
        return true
      },
    })
    relay = toNodeHandler(trustpilotRelay({ apiKeys: [API_KEY], origins: [shop.url], upstream: upstream.url }))
    const direct = { apiKey: API_KEY, endpoint: standIn.url }
    const relayed = { apiKey: API_KEY, endpoint: RELAY_PATH }
    const cases: CaseSpec[] = [
      { name: 'cold', settings: direct, prefetched: false, relayed: false },
      { name: 'relay cold', settings: relayed, prefetched: false, relayed: true },
      { name: 'prefetched', settings: direct, prefetched: true, relayed: false },
      { name: 'relay prefetched', settings: relayed, prefetched: true, relayed: true },
      { name: 'script', settings: { ...direct, transport: 'script' }, prefetched: false, relayed: false },
    ]
    const invitationPath = `${RELAY_PATH}/api/${API_KEY}/invitation`
    for (let i = 0; i < SAMPLES; i++) {
      // Interleaved, so drift of the machine hits every case alike.
      for (const { name, settings, prefetched, relayed } of cases) {
        // The stand-in it posts to: Trustpilot as the browser reaches it, or as the relay does.
        const target = relayed ? upstream : standIn
        standIn.closeIdle()
        upstream.closeIdle()
        context = await env.browser.newContext()
        const page = await context.newPage()
        if (prefetched) {
          await openThankYou(page, shop.url, settings)
          await page.evaluate(() => (window as any).analytics.track('Checkout Started'))
          await waitForDeliveryModule(page)
        }
        const fetchedBefore = hit(`GET ${DELIVERY_PATH}`)
        const shopPreflightsBefore = hit(`OPTIONS ${invitationPath}`)
        const preflightsBefore = standIn.preflights
        const connectionsBefore = target.connections
        await openThankYou(page, shop.url, settings)
        const id = `first-post-${name.replace(' ', '-')}-${Date.now()}-${i}`
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
          () => target.requests.find((r) => r.body.referenceId === id),
          FIRST_POST_TIMEOUT_MS,
        ).catch(() => undefined)
        const opened = target.connections - connectionsBefore
        const preflights = standIn.preflights - preflightsBefore
        const fetched = hit(`GET ${DELIVERY_PATH}`) - fetchedBefore
        if (!first) discard(`${name}: no POST reached the stand-in within ${FIRST_POST_TIMEOUT_MS} ms`)
        // Cold must fetch the module for the order; prefetched must not (it came from the cache).
        else if (prefetched && fetched > 0) discard(`${name}: delivery.js not from the cache`)
        else if (!prefetched && fetched === 0) discard(`${name}: delivery.js not fetched for the order`)
        // A buyer's first order pays a preflight to Trustpilot; a same-origin request never does.
        else if (!relayed && preflights === 0) discard(`${name}: no preflight before the POST`)
        else if (relayed && (preflights > 0 || hit(`OPTIONS ${invitationPath}`) > shopPreflightsBefore)) {
          discard(`${name}: a preflight`)
        } else {
          samples[name].push(first.at - t0)
          connections[name].push(opened)
        }
        if (first) {
          await waitFor(`the creation of order ${id}`, () => (target.created.has(id) ? true : undefined), 10_000)
        }
        await context.close()
        context = undefined
      }
    }
  } finally {
    await context?.close()
    await shop?.close()
    await upstream?.close()
    await standIn?.close()
  }

  const model = `${BROWSER_LINK.oneWayMs} ms each way${HANDSHAKES === 2 ? '' : `, ${HANDSHAKES} round trips a connection`}`
  const metric = (label: string) => `track -> first POST, ${model}: ${label} (median)`
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
  const ratio = (relayed: Case, direct: Case, label: string, goal: number): Row => {
    const name = `track -> first POST, ${model}: ${label}, relay / direct (medians)`
    const [through, straight] = [samples[relayed], samples[direct]]
    if (!through.length || !straight.length) {
      return notMeasured(name, `<= ${goal}`, `no sample ${through.length ? direct : relayed}`)
    }
    const value = median(through) / median(straight)
    return {
      metric: name,
      result: `${value.toFixed(2)} (${ms(median(through), 0)} / ${ms(median(straight), 0)})`,
      goal: `<= ${goal}`,
      met: value <= goal,
    }
  }
  const perOrder = (Object.keys(samples) as Case[]).map((c) => `${c} ${samples[c].join(' ') || 'none'}`).join('; ')
  const opened = (Object.keys(connections) as Case[]).map((c) => `${c} ${tally(connections[c])}`).join('; ')
  return {
    rows: [
      row('cold', 'module cold, direct'),
      row('relay cold', 'module cold, through the relay'),
      ratio('relay cold', 'cold', 'module cold', GOAL_COLD),
      row('prefetched', 'prefetched by Checkout Started, direct'),
      row('relay prefetched', 'prefetched by Checkout Started, through the relay'),
      ratio('relay prefetched', 'prefetched', 'prefetched by Checkout Started', GOAL_PREFETCHED),
      row('script', "transport 'script' (tp.min.js stand-in), cold"),
    ],
    note: `6: one latency model for every row: ${BROWSER_LINK.oneWayMs} ms each way between the browser and each server (the shop's origin serving dist/ and the relay, the stand-in, the simplicity page), ${RELAY_LINK.oneWayMs} ms each way between the relay and the stand-in; each server holds a request that long before it sees it and its answer that long before it leaves; a new connection first costs ${HANDSHAKES === 2 ? '2 round trips (TCP, TLS 1.3)' : `${HANDSHAKES} round trips (BENCH_HANDSHAKES)`}, a kept-alive one nothing; DNS not modelled. A fresh context per sample (no connection to Trustpilot, no cached preflight), the relay's connection to the stand-in closed before each; dist/ served with "Cache-Control: ${CDN_CACHE}" (a prefetched row's thank-you page takes it from the HTTP cache); ${SAMPLES} samples per case, interleaved. Per order ms: ${perOrder}. Connections opened to Trustpilot up to the first POST (per order): ${opened}. Relayed POSTs on a kept-alive connection to the shop: ${relayedOn.kept} of ${relayedOn.kept + relayedOn.fresh}.${discarded.size ? ` Left out: ${[...discarded].map(([why, n]) => `${n} ${why}`).join('; ')}.` : ''}`,
  }
}
