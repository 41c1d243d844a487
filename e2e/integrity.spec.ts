/**
 * The plugin on a page that enforces `Integrity-Policy: blocked-destinations=(script)` (issue 29,
 * docs/integrity.md): every script must carry integrity metadata, dynamic `import()` included (from
 * an inline import map). Each page loads the built dist/ from a CDN on another origin with the
 * snippet the package's own command prints (e2e/support/integrity.ts), and is watched for what the
 * engine shows of a blocked script: Chromium's console errors, failed requests and Reporting API
 * reports, every engine's `error` events of <script> elements, and which files reached the CDN (a
 * script the policy blocks is never requested). Where nothing is refused, the test also checks the
 * page does enforce the policy: a script added without integrity is refused, never requested.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from '@playwright/test'
import { API_KEY, SEED_PROPERTIES } from '../test/support/fixtures'
import type { StandIn } from '../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../test/support/static-server'
import { test as base, expect, remotePluginCdnSettings } from './support/fixtures'
import {
  asLoadedRemotePlugin,
  INTEGRITY_POLICY,
  type IntegritySite,
  integritySiteFixture,
  keepingEntries,
  printedSnippet,
  type Route,
  shopPage,
  withSettings,
} from './support/integrity'
import { type Shops, shops } from './support/shops'

const test = base.extend<{ integritySite: IntegritySite }, { built: Shops & { url: string } }>({
  ...integritySiteFixture,
  // The bundled shops (e2e/support/shops.ts, shared with e2e/bundlers.spec.ts), every page served
  // under the policy; /webpack-start/pinned.html is the plain webpack shop with its entry pinned by hand.
  built: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const built = await shops()
      const server: StaticServer = await startStaticServer(built.root, 0, {
        handle: (url, res) => {
          if (url.pathname !== '/webpack-start/pinned.html') return false
          const entry = readFileSync(join(built.root, 'webpack-start', 'shop.js'))
          const integrity = `sha384-${createHash('sha384').update(entry).digest('base64')}`
          res
            .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Integrity-Policy': INTEGRITY_POLICY })
            .end(`<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Shop</title>
<script src="./shop.js" integrity="${integrity}" crossorigin="anonymous"></script>`)
          return true
        },
        headers: () => ({ 'Integrity-Policy': INTEGRITY_POLICY }),
      })
      await use({ ...built, url: server.url })
      await server.close()
    },
    { scope: 'worker', timeout: 180_000 },
  ],
})

/** A timeout no test here may come near: a module that can't load must not make track wait for it. */
const TIMEOUT_MS = 8_000
const settingsFor = (standIn: StandIn) => ({ apiKey: API_KEY, endpoint: standIn.url, timeoutMs: TIMEOUT_MS })

/**
 * What Playwright sees of the page going wrong: console errors and warnings, failed requests for
 * scripts (Chromium reports its keepalive requests to Trustpilot as aborted once handed over), uncaught errors.
 */
function watch(page: Page) {
  const problems: string[] = []
  const requested: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console: ${message.text()}`)
  })
  page.on('requestfailed', (request) => {
    if (request.resourceType() !== 'fetch')
      problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('request', (request) => requested.push(request.url()))
  return { problems, requested }
}

/** What the page itself recorded (e2e/support/integrity.ts), once the engine has queued its reports. */
async function pageWatch(page: Page) {
  await page.waitForTimeout(200)
  return page.evaluate(() => (window as any).integrityWatch) as Promise<Record<string, string[]>>
}

/** Opens the page and waits until the snippet's plugin is registered (none to wait for: a remote plugin). */
async function open(page: Page, url: string, { registers = true } = {}) {
  const response = await page.goto(url)
  expect(response?.headers()['integrity-policy']).toBe(INTEGRITY_POLICY)
  if (registers) {
    await page.waitForFunction(() => (window as any).registrations.length > 0)
    await page.evaluate(() => Promise.all((window as any).registrations).then(() => true))
  }
  await page.evaluate(() => (window as any).analytics.then(() => true))
}

/** The page enforces the policy: a script without integrity is refused, and never reaches the server. */
async function expectEnforced(page: Page, site: IntegritySite) {
  const loaded = await page.evaluate(
    (src) =>
      new Promise<string>((resolve) => {
        const script = document.createElement('script')
        script.src = src
        script.onload = () => resolve('loaded')
        script.onerror = () => resolve('refused')
        document.head.append(script)
      }),
    `${site.shop}/e2e/pages/console-capture.js?without-integrity`,
  )
  expect(loaded).toBe('refused')
  expect(site.shopRequests).not.toContain('/e2e/pages/console-capture.js?without-integrity')
}

const storedOrders = (page: Page) =>
  page.evaluate(() =>
    Object.keys(localStorage)
      .filter((key) => key.includes('/order:'))
      .map((key) => JSON.parse(localStorage.getItem(key) as string).event.properties.order_id as string),
  )

/** What each route fetches of the CDN for an order: the entry, then the delivery module (and its import of the entry). */
const FETCHED: Record<Route, string[]> = {
  module: ['/dist/index.js', '/dist/delivery.js'],
  classic: ['/dist/trustpilot.global.js', '/dist/index.js', '/dist/delivery.js'],
}

for (const route of ['module', 'classic'] as const) {
  const title = route === 'module' ? 'the CDN ES-module route' : 'the classic-script route'

  test(`${title}, the printed snippet: 202 → products → 201 → sent, nothing blocked, integrity.json never fetched`, async ({
    shop,
    standIn,
    integritySite: site,
  }) => {
    const seen = watch(shop.page)
    const snippet = withSettings(await printedSnippet(site.base, route), settingsFor(standIn))
    await open(shop.page, site.page(`order-${route}`, shopPage({ snippet })))
    await shop.track('Order Completed', SEED_PROPERTIES)
    const sent = await shop.waitForOutcome('sent')
    expect(sent?.reason).toBe('accepted by Trustpilot')
    expect(standIn.requests.map((r) => [r.status, 'products' in r.body])).toEqual([
      [202, false],
      [201, true],
    ])
    expect(site.cdnRequests).toEqual(FETCHED[route])
    expect(seen.problems).toEqual([])
    expect(await pageWatch(shop.page)).toEqual({ violations: [], reports: [], scriptErrors: [], rejections: [] })
    for (const requests of [site.cdnRequests, site.shopRequests, seen.requested])
      expect(requests.filter((path) => path.includes('integrity.json'))).toEqual([])
    await expectEnforced(shop.page, site)
  })
}

test('with a nonce-based strict CSP as well (the snippet printed with --nonce): both routes deliver, no violation', async ({
  shop,
  standIn,
  integritySite: site,
}) => {
  const nonce = 'c2hvcC1ub25jZQ'
  const csp = `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'`
  const seen = watch(shop.page)
  for (const route of ['module', 'classic'] as const) {
    const snippet = withSettings(await printedSnippet(site.base, route, nonce), settingsFor(standIn))
    const url = site.page(`nonce-${route}`, shopPage({ snippet, nonce }), { 'Content-Security-Policy': csp })
    await open(shop.page, url)
    const referenceId = `nonce-${route}`
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: referenceId })
    await shop.waitForOutcome('sent', referenceId)
    expect(await pageWatch(shop.page)).toEqual({ violations: [], reports: [], scriptErrors: [], rejections: [] })
  }
  expect(standIn.requests.map((r) => [r.body.referenceId, r.status])).toEqual([
    ['nonce-module', 202],
    ['nonce-module', 201],
    ['nonce-classic', 202],
    ['nonce-classic', 201],
  ])
  expect(seen.problems).toEqual([])
})

test('a tampered dist/delivery.js (one byte changed, its hash not) never runs: the order is kept, and a later page with the right file delivers it', async ({
  shop,
  standIn,
  integritySite: site,
}) => {
  const seen = watch(shop.page)
  const snippet = withSettings(await printedSnippet(site.base, 'module'), settingsFor(standIn))
  const url = site.page('tampered', shopPage({ snippet }))
  site.tampered.add('/dist/delivery.js')
  await open(shop.page, url)
  const started = Date.now()
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'tampered' })
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS)
  const outcome = await shop.waitForOutcome('retrying', 'tampered')
  expect(outcome?.reason).toMatch(
    /^the delivery module did not load \(TypeError: .*\); the order is kept until it loads, here or on a later page$/,
  )
  expect(outcome?.error).toBe('RetryableError')
  // The browser had the changed bytes, and ran none of them: nothing reached Trustpilot.
  expect(site.tamperedServed).toEqual(['/dist/delivery.js'])
  expect(standIn.requests).toEqual([])
  expect(await storedOrders(shop.page)).toEqual(['tampered'])
  // What the engine says: Chromium names the file and its digest; nothing else is refused.
  expect(seen.problems.filter((problem) => !problem.includes('/dist/delivery.js'))).toEqual([])
  const { violations, reports, scriptErrors } = await pageWatch(shop.page)
  expect({ violations, reports, scriptErrors }).toEqual({ violations: [], reports: [], scriptErrors: [] })

  // The CDN serves the right file again: the next page loads it and delivers the kept order.
  site.tampered.clear()
  await open(shop.page, url)
  await shop.waitForOutcome('sent', 'tampered')
  expect(standIn.requests.map((r) => [r.body.referenceId, r.status])).toEqual([
    ['tampered', 202],
    ['tampered', 201],
  ])
  expect(await storedOrders(shop.page)).toEqual([])
})

for (const route of ['module', 'classic'] as const) {
  test(`${route} route, the entry pinned but no import-map entries for the modules it loads later: "did not load" at once, the order kept`, async ({
    shop,
    standIn,
    integritySite: site,
    browserName,
  }) => {
    const seen = watch(shop.page)
    const full = withSettings(await printedSnippet(site.base, route), settingsFor(standIn))
    // The module route keeps the entry's own entry (it is imported through the map); the classic
    // route's entry is pinned by its script tag, so its map keeps nothing.
    const pinnedEntryOnly = keepingEntries(full, (url) => route === 'module' && url === `${site.base}index.js`)
    await open(shop.page, site.page(`entry-only-${route}`, shopPage({ snippet: pinnedEntryOnly })))
    const started = Date.now()
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'unpinned' })
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS)
    const outcome = await shop.waitForOutcome('retrying', 'unpinned')
    expect(outcome?.reason).toMatch(/^the delivery module did not load \(TypeError: .*\); the order is kept/)
    expect(standIn.requests).toEqual([])
    expect(await storedOrders(shop.page)).toEqual(['unpinned'])
    // The policy refused the module before asking for it: it never reached the CDN.
    expect(site.cdnRequests).toEqual(route === 'module' ? ['/dist/index.js'] : ['/dist/trustpilot.global.js'])
    if (browserName === 'chromium') {
      const { reports } = await pageWatch(shop.page)
      expect(reports).toContain(`integrity-violation ${site.base}delivery.js`)
      expect(seen.problems).toContain(`request failed: ${site.base}delivery.js integrity`)
    }

    // The documented snippet on the next page: the kept order goes.
    await open(shop.page, site.page(`entry-only-${route}-fixed`, shopPage({ snippet: full })))
    await shop.waitForOutcome('sent', 'unpinned')
    expect(standIn.requests.map((r) => r.status)).toEqual([202, 201])
  })
}

test('the classic snippet without crossorigin: its script is refused (no CORS, no integrity check), the plugin never loads', async ({
  shop,
  standIn,
  integritySite: site,
}) => {
  const printed = withSettings(await printedSnippet(site.base, 'classic'), settingsFor(standIn))
  const withoutCors = printed.replace(' crossorigin="anonymous"', '')
  expect(withoutCors).not.toBe(printed)
  await open(shop.page, site.page('no-cors', shopPage({ snippet: withoutCors })), { registers: false })
  expect(await shop.page.evaluate(() => typeof (window as any).trustpilotDestination)).toBe('undefined')
  expect((await pageWatch(shop.page)).scriptErrors).toEqual([`${site.base}trustpilot.global.js`])
  expect(site.cdnRequests).toEqual([])
})

test('a static import of the pinned entry from an inline module works too (WebKitGTK refuses it: e2e/webkitgtk/integrity.spec.ts)', async ({
  shop,
  integritySite: site,
}) => {
  const printed = await printedSnippet(site.base, 'module')
  const map = /<script type="importmap">[\s\S]*?<\/script>/.exec(printed)?.[0] as string
  const statically = `<script type="module">import { trustpilot } from '${site.base}index.js'; window.imported = typeof trustpilot</script>`
  await shop.page.goto(site.page('static-import', shopPage({ snippet: `${map}\n${statically}` })))
  await expect.poll(() => shop.page.evaluate(() => (window as any).imported)).toBe('function')
  expect(site.cdnRequests).toEqual(['/dist/index.js'])
})

test.describe('analytics-next remote plugins', () => {
  test('loaded by analytics-next (its <script> has no integrity): blocked before it runs, and the page goes on', async ({
    shop,
    standIn,
    integritySite: site,
  }) => {
    const cdnSettings = remotePluginCdnSettings(site.cdn, settingsFor(standIn))
    await open(shop.page, site.page('remote', shopPage({ snippet: '', cdnSettings })), { registers: false })
    expect(await shop.page.evaluate(() => typeof (window as any).trustpilotDestination)).toBe('undefined')
    const { scriptErrors } = await pageWatch(shop.page)
    expect(scriptErrors).toEqual([`${site.base}trustpilot.global.js`])
    expect(site.cdnRequests).toEqual([])
    await shop.track('Order Completed', SEED_PROPERTIES)
    expect(await shop.outcomes()).toEqual([])
    expect(standIn.requests).toEqual([])
  })

  test('its script pinned by the page itself (the classic snippet\'s tag, status="loaded"): analytics-next uses it, and the order goes', async ({
    shop,
    standIn,
    integritySite: site,
  }) => {
    const seen = watch(shop.page)
    const snippet = asLoadedRemotePlugin(await printedSnippet(site.base, 'classic'))
    const cdnSettings = remotePluginCdnSettings(site.cdn, settingsFor(standIn))
    await open(shop.page, site.page('remote-pinned', shopPage({ snippet, cdnSettings })), { registers: false })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(standIn.requests.map((r) => r.status)).toEqual([202, 201])
    // One request for the script: the page's own; analytics-next added none.
    expect(site.cdnRequests).toEqual(FETCHED.classic)
    expect(seen.problems).toEqual([])
    expect(await pageWatch(shop.page)).toEqual({ violations: [], reports: [], scriptErrors: [], rejections: [] })
  })
})

test.describe("the npm route: the lazy module is the shop's bundler's chunk, pinned by the bundler", () => {
  test('webpack 5 with webpack-subresource-integrity: the delivery chunk loads under the policy, the order is sent', async ({
    shop,
    standIn,
    built,
  }) => {
    const build = built.builds['webpack-sri-start']!
    expect(build.deliveryFiles).toHaveLength(1)
    const seen = watch(shop.page)
    const response = await shop.page.goto(
      `${built.url}/${build.dir}/index.html?endpoint=${encodeURIComponent(standIn.url)}`,
    )
    expect(response?.headers()['integrity-policy']).toBe(INTEGRITY_POLICY)
    await shop.page.waitForFunction(() => (window as any).analytics)
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(standIn.requests.map((r) => r.status)).toEqual([202, 201])
    // The chunk was asked for with the hash webpack's runtime gave its <script>.
    const chunk = seen.requested.find((url) => url.endsWith(`/${build.dir}/${build.deliveryFiles[0]}`))
    expect(chunk).toBeDefined()
    expect(seen.problems).toEqual([])
    const refused = await shop.page.evaluate(
      () =>
        new Promise<boolean>((resolve) => {
          const script = document.createElement('script')
          script.src = './shop.js?without-integrity'
          script.onload = () => resolve(false)
          script.onerror = () => resolve(true)
          document.head.append(script)
        }),
    )
    expect(refused, 'the page enforces the policy').toBe(true)
  })

  test('webpack 5 without it, the entry pinned by hand: the delivery chunk is refused, "did not load", the order kept', async ({
    shop,
    standIn,
    built,
    browserName,
  }) => {
    const build = built.builds['webpack-start']!
    const seen = watch(shop.page)
    await shop.page.goto(`${built.url}/webpack-start/pinned.html?endpoint=${encodeURIComponent(standIn.url)}`)
    await shop.page.waitForFunction(() => (window as any).analytics)
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'unpinned-chunk' })
    const outcome = await shop.waitForOutcome('retrying', 'unpinned-chunk')
    expect(outcome?.reason).toMatch(/^the delivery module did not load \(/)
    expect(standIn.requests).toEqual([])
    expect(await storedOrders(shop.page)).toEqual(['unpinned-chunk'])
    // Chromium says why: the policy refused the chunk's <script>, which webpack's runtime gave no integrity.
    if (browserName === 'chromium')
      expect(seen.problems).toContain(`request failed: ${built.url}/webpack-start/${build.deliveryFiles[0]} integrity`)
  })
})
