/**
 * e2e/integrity.spec.ts in WebKitGTK (MiniBrowser over WebDriver): WebKitGTK 2.50 enforces
 * `Integrity-Policy: blocked-destinations=(script)` and an import map's `integrity` for `import()`
 * (docs/browsers.md, "Integrity-Policy and import maps"). The same pages, printed by the package's
 * command; what the page sees is its own record (e2e/support/integrity.ts) and which files reached
 * the CDN: WebDriver has no console or network events. WebDriver can't read response headers either:
 * where nothing is refused, the test checks instead that the page refuses a script without integrity.
 */
import type { WebDriver } from 'selenium-webdriver'
import { API_KEY, SEED_PROPERTIES } from '../../test/support/fixtures'
import type { StandIn } from '../../test/support/stand-in'
import { remotePluginCdnSettings } from '../support/fixtures'
import {
  asLoadedRemotePlugin,
  type IntegritySite,
  integritySiteFixture,
  keepingEntries,
  printedSnippet,
  type Route,
  shopPage,
  withSettings,
} from '../support/integrity'
import { waitUntil } from '../support/webkitgtk'
import { test as base, expect } from './webdriver'

const test = base.extend<{ integritySite: IntegritySite }>(integritySiteFixture)

const TIMEOUT_MS = 8_000
const settingsFor = (standIn: StandIn) => ({ apiKey: API_KEY, endpoint: standIn.url, timeoutMs: TIMEOUT_MS })
const CLEAN = { violations: [], reports: [], scriptErrors: [], rejections: [] }

/** Opens the page and waits until the snippet's plugin is registered (none to wait for: a remote plugin). */
async function open(driver: WebDriver, url: string, { registers = true } = {}) {
  await driver.get(url)
  if (registers)
    await waitUntil(
      () => driver.executeScript<boolean>('return window.registrations.length > 0'),
      10_000,
      'no registration',
    )
  const ready = await driver.executeAsyncScript<string>(`const done = arguments[arguments.length - 1]
    Promise.all(window.registrations).then(() => window.analytics).then(() => done('ok'), (e) => done(String(e)))`)
  expect(ready).toBe('ok')
}

const pageWatch = async (driver: WebDriver) => {
  await new Promise((resolve) => setTimeout(resolve, 200))
  return driver.executeScript<Record<string, string[]>>('return window.integrityWatch')
}

/** The page enforces the policy: a script without integrity is refused, and never reaches the server. */
async function expectEnforced(driver: WebDriver, site: IntegritySite) {
  const loaded = await driver.executeAsyncScript<string>(
    `const done = arguments[arguments.length - 1]
    const script = document.createElement('script')
    script.src = arguments[0]
    script.onload = () => done('loaded')
    script.onerror = () => done('refused')
    document.head.append(script)`,
    `${site.shop}/e2e/pages/console-capture.js?without-integrity`,
  )
  expect(loaded).toBe('refused')
  expect(site.shopRequests).not.toContain('/e2e/pages/console-capture.js?without-integrity')
}

const storedOrders = (driver: WebDriver) =>
  driver.executeScript<string[]>(
    "return Object.keys(localStorage).filter((k) => k.includes('/order:')).map((k) => JSON.parse(localStorage.getItem(k)).event.properties.order_id)",
  )

const FETCHED: Record<Route, string[]> = {
  module: ['/dist/index.js', '/dist/delivery.js'],
  classic: ['/dist/trustpilot.global.js', '/dist/index.js', '/dist/delivery.js'],
}

for (const route of ['module', 'classic'] as const) {
  test(`${route === 'module' ? 'the CDN ES-module route' : 'the classic-script route'}, the printed snippet: 202 → products → 201 → sent, nothing blocked`, async ({
    shop,
    driver,
    standIn,
    integritySite: site,
  }) => {
    const snippet = withSettings(await printedSnippet(site.base, route), settingsFor(standIn))
    await open(driver, site.page(`order-${route}`, shopPage({ snippet })))
    await shop.track('Order Completed', SEED_PROPERTIES)
    const sent = await shop.waitForOutcome('sent')
    expect(sent?.reason).toBe('accepted by Trustpilot')
    expect(standIn.requests.map((r) => [r.status, 'products' in r.body])).toEqual([
      [202, false],
      [201, true],
    ])
    expect(site.cdnRequests).toEqual(FETCHED[route])
    expect(await pageWatch(driver)).toEqual(CLEAN)
    for (const requests of [site.cdnRequests, site.shopRequests])
      expect(requests.filter((path) => path.includes('integrity.json'))).toEqual([])
    await expectEnforced(driver, site)
  })
}

test('with a nonce-based strict CSP as well (the snippet printed with --nonce): both routes deliver, no violation', async ({
  shop,
  driver,
  standIn,
  integritySite: site,
}) => {
  const nonce = 'c2hvcC1ub25jZQ'
  const csp = `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'`
  for (const route of ['module', 'classic'] as const) {
    const snippet = withSettings(await printedSnippet(site.base, route, nonce), settingsFor(standIn))
    await open(driver, site.page(`nonce-${route}`, shopPage({ snippet, nonce }), { 'Content-Security-Policy': csp }))
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: `nonce-${route}` })
    await shop.waitForOutcome('sent', `nonce-${route}`)
    expect(await pageWatch(driver)).toEqual(CLEAN)
  }
  expect(standIn.requests.map((r) => r.status)).toEqual([202, 201, 202, 201])
  await expectEnforced(driver, site)
})

test('a tampered dist/delivery.js never runs: the order is kept, and a later page with the right file delivers it', async ({
  shop,
  driver,
  standIn,
  integritySite: site,
}) => {
  const snippet = withSettings(await printedSnippet(site.base, 'module'), settingsFor(standIn))
  const url = site.page('tampered', shopPage({ snippet }))
  site.tampered.add('/dist/delivery.js')
  await open(driver, url)
  const started = Date.now()
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'tampered' })
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS)
  const outcome = await shop.waitForOutcome('retrying', 'tampered')
  expect(outcome?.reason).toMatch(/^the delivery module did not load \(TypeError: .*\); the order is kept/)
  expect(site.tamperedServed).toEqual(['/dist/delivery.js'])
  expect(standIn.requests).toEqual([])
  expect(await storedOrders(driver)).toEqual(['tampered'])

  site.tampered.clear()
  await open(driver, url)
  await shop.waitForOutcome('sent', 'tampered')
  expect(standIn.requests.map((r) => [r.body.referenceId, r.status])).toEqual([
    ['tampered', 202],
    ['tampered', 201],
  ])
  expect(await storedOrders(driver)).toEqual([])
})

for (const route of ['module', 'classic'] as const) {
  test(`${route} route, the entry pinned but no import-map entries for the modules it loads later: "did not load" at once, the order kept`, async ({
    shop,
    driver,
    standIn,
    integritySite: site,
  }) => {
    const full = withSettings(await printedSnippet(site.base, route), settingsFor(standIn))
    const pinnedEntryOnly = keepingEntries(full, (url) => route === 'module' && url === `${site.base}index.js`)
    await open(driver, site.page(`entry-only-${route}`, shopPage({ snippet: pinnedEntryOnly })))
    const started = Date.now()
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'unpinned' })
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS)
    const outcome = await shop.waitForOutcome('retrying', 'unpinned')
    expect(outcome?.reason).toMatch(/^the delivery module did not load \(TypeError: .*\); the order is kept/)
    expect(standIn.requests).toEqual([])
    expect(await storedOrders(driver)).toEqual(['unpinned'])
    expect(site.cdnRequests).toEqual(route === 'module' ? ['/dist/index.js'] : ['/dist/trustpilot.global.js'])

    await open(driver, site.page(`entry-only-${route}-fixed`, shopPage({ snippet: full })))
    await shop.waitForOutcome('sent', 'unpinned')
    expect(standIn.requests.map((r) => r.status)).toEqual([202, 201])
  })
}

test('a remote plugin loaded by analytics-next (no integrity) is blocked before it runs; pinned by the page, it delivers', async ({
  shop,
  driver,
  standIn,
  integritySite: site,
}) => {
  const cdnSettings = remotePluginCdnSettings(site.cdn, settingsFor(standIn))
  await open(driver, site.page('remote', shopPage({ snippet: '', cdnSettings })), { registers: false })
  expect(await driver.executeScript('return typeof window.trustpilotDestination')).toBe('undefined')
  expect((await pageWatch(driver)).scriptErrors).toEqual([`${site.base}trustpilot.global.js`])
  expect(site.cdnRequests).toEqual([])

  const snippet = asLoadedRemotePlugin(await printedSnippet(site.base, 'classic'))
  await open(driver, site.page('remote-pinned', shopPage({ snippet, cdnSettings })), { registers: false })
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  expect(standIn.requests.map((r) => r.status)).toEqual([202, 201])
  expect(site.cdnRequests).toEqual(FETCHED.classic)
  expect(await pageWatch(driver)).toEqual(CLEAN)
})

test('the classic snippet without crossorigin: its script is refused, the plugin never loads', async ({
  driver,
  standIn,
  integritySite: site,
}) => {
  const printed = withSettings(await printedSnippet(site.base, 'classic'), settingsFor(standIn))
  const withoutCors = printed.replace(' crossorigin="anonymous"', '')
  expect(withoutCors).not.toBe(printed)
  await open(driver, site.page('no-cors', shopPage({ snippet: withoutCors })), { registers: false })
  expect(await driver.executeScript('return typeof window.trustpilotDestination')).toBe('undefined')
  expect((await pageWatch(driver)).scriptErrors).toEqual([`${site.base}trustpilot.global.js`])
  expect(site.cdnRequests).toEqual([])
})

test('WebKitGTK refuses a static import of a module the import map pins, under the policy: why the snippet uses import()', async ({
  driver,
  integritySite: site,
}) => {
  const printed = await printedSnippet(site.base, 'module')
  const map = /<script type="importmap">[\s\S]*?<\/script>/.exec(printed)?.[0] as string
  const statically = `<script type="module">import { trustpilot } from '${site.base}index.js'; window.imported = typeof trustpilot</script>`
  await driver.get(site.page('static-import', shopPage({ snippet: `${map}\n${statically}` })))
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(await driver.executeScript('return window.imported ?? "refused"')).toBe('refused')
  // Refused before it was asked for: the import map's integrity for it went unseen.
  expect(site.cdnRequests).toEqual([])
})
