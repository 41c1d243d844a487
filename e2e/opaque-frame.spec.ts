/**
 * A Shopify custom pixel's frame: code in a frame with an opaque origin, where `document.cookie` and
 * `localStorage` throw, Web Locks reject, and every request carries `Origin: null` (docs/shopify.md).
 * Four shapes of it, each a page of the pixel (e2e/pages/pixel.js) with analytics-next and the plugin:
 * - `srcdoc`: `<iframe sandbox="allow-scripts allow-forms" srcdoc=…>`;
 * - `sandboxed src`: the same attribute on a frame with a URL on the shop's origin, the shape Shopify's
 *   lax sandbox gives a custom pixel;
 * - `CSP sandbox`: a page served with `Content-Security-Policy: sandbox allow-scripts`;
 * - `Shopify-like`: `sandboxed src`, where the page first replaces document.cookie, window.origin and
 *   localStorage as Shopify's own sandbox script does before it runs a custom pixel.
 * What it shows: analytics-next, loaded as a page loads it, fails every event in a bare frame
 * (its Page Enrichment plugin reads document.cookie), which load options don't change and what does;
 * and, with that in place, where the plugin's invitations go from such a frame.
 */
import type { Frame, Page } from '@playwright/test'
import { OPAQUE_ORIGIN } from '../src/transport'
import { API_KEY, SEED_PROPERTIES } from '../test/support/fixtures'
import { type StaticServer, startStaticServer } from '../test/support/static-server'
import { test as base, expect } from './support/fixtures'
import { startRelayShop } from './support/relay-shop'

type Shape = 'srcdoc' | 'sandboxed src' | 'CSP sandbox' | 'Shopify-like'
/** The frames as a browser makes them, with nothing of Shopify's in them. */
const BARE: Shape[] = ['srcdoc', 'sandboxed src', 'CSP sandbox']
const SHAPES: Shape[] = [...BARE, 'Shopify-like']

/** The pixel's page: the console capture first, then the pixel (Shopify's stand-ins first of all), then analytics-next. */
const PIXEL_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>A custom pixel</title>
<script src="/e2e/pages/console-capture.js"></script>
<script src="/e2e/pages/recorder.js"></script>
<script src="/e2e/pages/pixel.js"></script>
<script src="/e2e/.build/analytics-next.js"></script>
`

/** The reason the plugin gives a path endpoint in such a frame. */
const OPAQUE_REASON = `Trustpilot: setting "endpoint" is a path, ${OPAQUE_ORIGIN}`
const MEMORY_WARNING =
  'warn: Trustpilot: localStorage failed (SecurityError); pending invitations are kept in memory for this page only, and end with it'

/** The shop's origin: the repository, with CORS as a CDN serves it, the pixel's page, and what reached /trustpilot. */
interface PixelHost extends StaticServer {
  asked: Array<{ method: string; origin?: string }>
}

async function startPixelHost(): Promise<PixelHost> {
  const asked: PixelHost['asked'] = []
  const server = await startStaticServer('.', 0, {
    handle: (url, res, req) => {
      if (url.pathname.startsWith('/trustpilot')) {
        asked.push({ method: req.method ?? '', origin: req.headers.origin })
        res.writeHead(404).end()
        return true
      }
      if (url.pathname !== '/opaque/pixel.html') return false
      const csp = url.searchParams.has('csp') ? { 'Content-Security-Policy': 'sandbox allow-scripts' } : {}
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...csp })
      res.end(PIXEL_PAGE)
      return true
    },
    // Every request of an opaque-origin frame is cross-origin, its module imports too: CORS on every
    // file, as jsDelivr and unpkg serve npm packages.
    headers: () => ({ 'Access-Control-Allow-Origin': '*' }),
  })
  return Object.assign(server, { asked })
}

const test = base.extend<{ host: PixelHost }>({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
  host: async ({}, use) => {
    const host = await startPixelHost()
    await use(host)
    await host.close()
  },
})

/** Opens the pixel in `shape` on the host's origin; resolves with its frame once pixel.js has run. */
async function openPixel(page: Page, host: PixelHost, shape: Shape): Promise<Frame> {
  let frame: Frame | null
  if (shape === 'CSP sandbox') {
    await page.goto(`${host.url}/opaque/pixel.html?csp`)
    frame = page.mainFrame()
  } else {
    await page.goto(`${host.url}/e2e/pages/elsewhere.html`)
    const src =
      shape === 'Shopify-like' ? `/opaque/pixel.html?shopify=${encodeURIComponent(host.url)}` : '/opaque/pixel.html'
    await page.evaluate(
      ([srcdoc, src]) => {
        const iframe = document.createElement('iframe')
        iframe.name = 'pixel'
        // As Shopify's lax sandbox makes a custom pixel's frame.
        iframe.setAttribute('sandbox', 'allow-scripts allow-forms')
        if (srcdoc) iframe.srcdoc = srcdoc
        else iframe.src = src
        document.body.append(iframe)
      },
      [shape === 'srcdoc' ? PIXEL_PAGE : '', src] as const,
    )
    frame = await (await page.waitForSelector('iframe[name=pixel]')).contentFrame()
  }
  await frame!.waitForFunction(() => (window as any).pixelReady)
  return frame!
}

/** The frame's window[name]. */
const read = <T = any>(frame: Frame, name: string): Promise<T> => frame.evaluate((n) => (window as any)[n], name)
const start = (frame: Frame, options: Record<string, unknown>) =>
  frame.evaluate((o) => (window as any).start(o), options)
const track = (frame: Frame, event: string, properties: Record<string, unknown>) =>
  frame.evaluate(([e, p]) => (window as any).track(e, p), [event, properties] as const)
const outcome = async (frame: Frame, status: string) => {
  await expect.poll(() => read(frame, 'outcomes')).toContainEqual(expect.objectContaining({ status }))
  return (await read<Array<{ status: string }>>(frame, 'outcomes')).find((o) => o.status === status)
}
const consoleLines = (frame: Frame): Promise<string[]> => frame.evaluate(() => (window as any).consoleCapture.lines)

/** The recipe of docs/shopify.md: the cookie guard, and analytics-next storing nothing. */
const RECIPE = { cookieGuard: true, loadOptions: { disableClientPersistence: true } }

test.describe('the frame', () => {
  for (const shape of SHAPES) {
    test(`${shape}: opaque origin; cookie, localStorage and Web Locks refused; which origin a script can read`, async ({
      page,
      host,
    }) => {
      const frame = await openPixel(page, host, shape)
      const refused = 'threw SecurityError'
      expect(await frame.evaluate(() => (window as any).probe())).toEqual({
        // window.origin says 'null' in every bare frame; location.origin only where the URL is about:srcdoc.
        selfOrigin: shape === 'Shopify-like' ? host.url : 'null',
        locationOrigin: shape === 'srcdoc' ? 'null' : host.url,
        // Nothing replaces document.domain: '' for an opaque origin, whatever the URL.
        documentDomain: '',
        cookie: shape === 'Shopify-like' ? 'string' : refused,
        localStorage: shape === 'Shopify-like' ? 'object' : refused,
        locks: 'rejected SecurityError',
      })
    })
  }
})

test.describe('analytics-next 1.84 in a bare frame', () => {
  for (const shape of BARE) {
    test(`${shape}: every event fails in Page Enrichment (SecurityError), reaches no destination, and is retried`, async ({
      page,
      host,
      standIn,
    }) => {
      const frame = await openPixel(page, host, shape)
      await start(frame, { settings: { apiKey: API_KEY, endpoint: standIn.url } })
      await track(frame, 'Product Viewed', { product_id: 'p1' })
      await track(frame, 'Order Completed', SEED_PROPERTIES)
      // Each event fails, and is tried again after a backoff: two attempts each.
      await expect
        .poll(async () => (await read<Array<{ event: string }>>(frame, 'failures')).length, { timeout: 15_000 })
        .toBeGreaterThanOrEqual(4)
      const failures = await read<Array<{ event: string; error: string; plugins: string[] }>>(frame, 'failures')
      expect(new Set(failures.map((f) => f.event))).toEqual(new Set(['Product Viewed', 'Order Completed']))
      // The plugins that threw, by the context's log (which keeps every attempt's): only Page Enrichment.
      for (const { error, plugins } of failures)
        expect([error, new Set(plugins)]).toEqual(['SecurityError', new Set(['Page Enrichment'])])
      // No destination saw either event, so the plugin never did: no outcome, no request.
      expect(await read(frame, 'received')).toEqual([])
      expect(await read(frame, 'outcomes')).toEqual([])
      expect(standIn.requests).toEqual([])
      // analytics.track() has not settled: it waits through the retries (up to 10 attempts, minutes).
      expect(await read(frame, 'settled')).toEqual([])
      expect(await read(frame, 'pageErrors')).toEqual([])
    })
  }

  // Each with `retryQueue: false`, so analytics-next gives up at the first attempt and track() settles.
  const noHelp: Array<[string, Record<string, unknown>]> = [
    ['nothing else', {}],
    ['disableClientPersistence: true', { disableClientPersistence: true }],
    ["storage: { stores: ['memory'] }", { storage: { stores: ['memory'] } }],
    ['user and group: { persist: false }', { user: { persist: false }, group: { persist: false } }],
    ["cookie: { domain: '127.0.0.1' }", { cookie: { domain: '127.0.0.1' } }],
    ["integrations: { 'Page Enrichment': false }", { integrations: { 'Page Enrichment': false } }],
  ]
  noHelp.push([
    'all of these together',
    Object.assign({}, ...noHelp.map(([, options]) => options)) as Record<string, unknown>,
  ])
  for (const [title, loadOptions] of noHelp) {
    test(`retryQueue: false with ${title}: the order still fails in Page Enrichment`, async ({
      page,
      host,
      standIn,
    }) => {
      const frame = await openPixel(page, host, 'sandboxed src')
      await start(frame, {
        settings: { apiKey: API_KEY, endpoint: standIn.url },
        loadOptions: { retryQueue: false, ...loadOptions },
      })
      await track(frame, 'Order Completed', SEED_PROPERTIES)
      await expect.poll(() => read(frame, 'settled')).toEqual([{ event: 'Order Completed', failed: 'SecurityError' }])
      expect(await read(frame, 'failures')).toEqual([
        { event: 'Order Completed', error: 'SecurityError', plugins: ['Page Enrichment'] },
      ])
      expect(await read(frame, 'received')).toEqual([])
      expect(standIn.requests).toEqual([])
    })
  }
})

test.describe('what makes analytics-next work there', () => {
  const fixes: Array<[string, Record<string, unknown>]> = [
    ['the cookie guard (document.cookie that holds nothing where it throws)', RECIPE],
    [
      "analytics.deregister('Page Enrichment') after load",
      { deregister: ['Page Enrichment'], loadOptions: { disableClientPersistence: true } },
    ],
  ]
  for (const shape of BARE) {
    for (const [title, options] of fixes) {
      test(`${shape}, ${title}: the order reaches the plugin and is sent, with Origin: null`, async ({
        page,
        host,
        standIn,
      }) => {
        const frame = await openPixel(page, host, shape)
        await start(frame, { ...options, settings: { apiKey: API_KEY, endpoint: standIn.url } })
        await track(frame, 'Order Completed', SEED_PROPERTIES)
        expect(await outcome(frame, 'sent')).toMatchObject({ referenceId: SEED_PROPERTIES.order_id })
        expect(await read(frame, 'received')).toEqual(['Order Completed'])
        expect(await read(frame, 'failures')).toEqual([])
        expect(standIn.requests.map((r) => r.origin)).not.toHaveLength(0)
        for (const request of standIn.requests) expect(request.origin).toBe('null')
        expect(await read(frame, 'pageErrors')).toEqual([])
      })
    }
  }

  test('Shopify-like: analytics-next runs unchanged (Shopify replaced document.cookie), the cookie guard changes nothing', async ({
    page,
    host,
    standIn,
  }) => {
    const frame = await openPixel(page, host, 'Shopify-like')
    await start(frame, { cookieGuard: true, settings: { apiKey: API_KEY, endpoint: standIn.url } })
    await track(frame, 'Order Completed', SEED_PROPERTIES)
    expect(await outcome(frame, 'sent')).toMatchObject({ referenceId: SEED_PROPERTIES.order_id })
    expect(await read(frame, 'failures')).toEqual([])
    // The plugin stores through Shopify's localStorage stand-in as through a page's own: no warning,
    // and Trustpilot's two steps (202, then the products, 201), each with Origin: null.
    expect(standIn.requests.map((r) => [r.status, r.origin])).toEqual([
      [202, 'null'],
      [201, 'null'],
    ])
    expect((await consoleLines(frame)).filter((line) => line.startsWith('warn: Trustpilot:'))).toEqual([])
  })
})

test.describe("the plugin's endpoint from the frame (with the recipe)", () => {
  for (const shape of BARE) {
    // Waits on the lead's change (docs/shopify.md): memory-only storage sends the products at once, and says so.
    test(`${shape}: a full URL (loopback stand-in): one request, products in it, 201, sent; one warning`, async ({
      page,
      host,
      standIn,
    }) => {
      const frame = await openPixel(page, host, shape)
      await start(frame, { ...RECIPE, settings: { apiKey: API_KEY, endpoint: standIn.url } })
      await track(frame, 'Order Completed', SEED_PROPERTIES)
      await outcome(frame, 'sent')
      expect(standIn.requests.map((r) => [r.status, r.origin, 'products' in r.body, 'productSkus' in r.body])).toEqual([
        [201, 'null', true, true],
      ])
      expect((await consoleLines(frame)).filter((line) => line.startsWith('warn: Trustpilot:'))).toEqual([
        MEMORY_WARNING,
      ])
    })
  }

  for (const shape of SHAPES) {
    // Waits on the lead's change: before it, a path endpoint is resolved against location.origin.
    test(`${shape}: a path endpoint ends failed at once, opaque-origin reason, no request, nothing thrown`, async ({
      page,
      host,
    }) => {
      const frame = await openPixel(page, host, shape)
      await start(frame, { ...RECIPE, settings: { apiKey: API_KEY, endpoint: '/trustpilot' } })
      await track(frame, 'Order Completed', SEED_PROPERTIES)
      await expect.poll(async () => (await read(frame, 'outcomes')).length).toBeGreaterThan(0)
      expect(await read(frame, 'outcomes')).toEqual([
        { status: 'failed', referenceId: SEED_PROPERTIES.order_id, reason: OPAQUE_REASON, error: 'TypeError' },
      ])
      expect(host.asked).toEqual([])
      expect(await read(frame, 'pageErrors')).toEqual([])
    })
  }

  test('the default endpoint: posted to invitejs.trustpilot.com from the frame, with Origin: null', async ({
    page,
    host,
    context,
  }) => {
    const seen: Array<{ method: string; origin?: string }> = []
    await context.route('https://invitejs.trustpilot.com/**', (route) => {
      const request = route.request()
      const origin = request.headers().origin
      seen.push({ method: request.method(), origin })
      const cors = {
        'Access-Control-Allow-Origin': origin ?? '*',
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Content-Type',
      }
      if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors })
      const products = 'products' in (request.postDataJSON() ?? {})
      return route.fulfill({ status: products ? 201 : 202, headers: cors })
    })
    const frame = await openPixel(page, host, 'sandboxed src')
    await start(frame, { ...RECIPE, settings: { apiKey: API_KEY } })
    await track(frame, 'Order Completed', SEED_PROPERTIES)
    expect(await outcome(frame, 'sent')).toMatchObject({ referenceId: SEED_PROPERTIES.order_id })
    const posts = seen.filter((r) => r.method === 'POST')
    expect(posts.length).toBeGreaterThan(0)
    for (const post of posts) expect(post.origin).toBe('null')
  })

  test("a full URL to the shop's relay: refused at the preflight, nothing forwarded", async ({
    page,
    host,
    standIn,
  }) => {
    const relayShop = await startRelayShop(standIn.url, [API_KEY])
    try {
      const frame = await openPixel(page, host, 'sandboxed src')
      await start(frame, { ...RECIPE, settings: { apiKey: API_KEY, endpoint: `${relayShop.url}/trustpilot` } })
      await track(frame, 'Order Completed', SEED_PROPERTIES)
      expect(await outcome(frame, 'retrying')).toMatchObject({ reason: expect.stringMatching(/^network error: /) })
      // The browser only asked, in a preflight with Origin: null, whether it may POST (once per attempt:
      // the plugin retries after a backoff); the relay never saw the invitation, nor did Trustpilot.
      expect(relayShop.asked.length).toBeGreaterThan(0)
      for (const asked of relayShop.asked) expect([asked.method, asked.origin]).toEqual(['OPTIONS', 'null'])
      expect(standIn.requests).toEqual([])
      // What the relay answers that preflight: 405, and no CORS header that would let a POST follow.
      const preflight = await fetch(`${relayShop.url}/trustpilot/api/${API_KEY}/invitation`, {
        method: 'OPTIONS',
        headers: { Origin: 'null', 'Access-Control-Request-Method': 'POST' },
      })
      expect([preflight.status, preflight.headers.get('access-control-allow-origin')]).toEqual([405, null])
    } finally {
      await relayShop.close()
    }
  })
})

test('the plugin from a server without CORS headers: the frame cannot import it', async ({ page, host, site }) => {
  const frame = await openPixel(page, host, 'sandboxed src')
  const error = await frame.evaluate(
    (plugin) =>
      (window as any).start({ plugin, settings: { apiKey: 'k' } }).then(
        () => 'imported',
        (e: Error) => e.name,
      ),
    `${site.url}/dist/index.js`,
  )
  expect(error).toBe('TypeError')
})
