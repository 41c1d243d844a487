/**
 * e2e/integrity.spec.ts in WebKitGTK (MiniBrowser over WebDriver): WebKitGTK 2.50 enforces
 * `Integrity-Policy: blocked-destinations=(script)` and an import map's `integrity` for `import()`
 * (docs/browsers.md, "Integrity-Policy and import maps"). The same pages, printed by the package's
 * command; what the page sees is its own record (e2e/support/integrity.ts) and which files reached
 * the CDN: WebDriver has no console or network events. WebDriver can't read response headers either:
 * where nothing is refused, the test checks instead that the page refuses a script without integrity.
 */
import type { WebDriver } from 'selenium-webdriver'
import * as integrity from '../support/integrity'
import { waitUntil } from '../support/webkitgtk'
import { test as base, expect } from './webdriver'

/** The page in MiniBrowser as the flows of e2e/support/integrity.ts drive it. */
function integrityPage(driver: WebDriver): integrity.IntegrityPage {
  return {
    async open(url, { registers = true } = {}) {
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
    },
    async watch() {
      await new Promise((resolve) => setTimeout(resolve, 200))
      return driver.executeScript<Record<string, string[]>>('return window.integrityWatch')
    },
    storedOrders: () =>
      driver.executeScript<string[]>(
        "return Object.keys(localStorage).filter((k) => k.includes('/order:')).map((k) => JSON.parse(localStorage.getItem(k)).event.properties.order_id)",
      ),
    addScript: (src) =>
      driver.executeAsyncScript<string>(
        `const done = arguments[arguments.length - 1]
        const script = document.createElement('script')
        script.src = arguments[0]
        script.onload = () => done('loaded')
        script.onerror = () => done('refused')
        document.head.append(script)`,
        src,
      ),
    destinationType: () => driver.executeScript<string>('return typeof window.trustpilotDestination'),
  }
}

const test = base.extend<{ integritySite: integrity.IntegritySite; run: integrity.IntegrityRun }>({
  ...integrity.integritySiteFixture,
  run: async ({ shop, driver, standIn, integritySite }, use) =>
    use({ page: integrityPage(driver), shop, standIn, site: integritySite }),
})

for (const route of ['module', 'classic'] as const) {
  test(`${route === 'module' ? 'the CDN ES-module route' : 'the classic-script route'}, the printed snippet: 202 → products → 201 → sent, nothing blocked`, async ({
    run,
  }) => {
    await integrity.expectPrintedSnippetDelivers(run, route)
    await integrity.expectEnforced(run)
  })
}

test('with a nonce-based strict CSP as well (the snippet printed with --nonce): both routes deliver, no violation', async ({
  standIn,
  run,
}) => {
  await integrity.deliverUnderNonceCsp(run)
  expect(standIn.requests.map((r) => r.status)).toEqual([202, 201, 202, 201])
  await integrity.expectEnforced(run)
})

test('a tampered dist/delivery.js never runs: the order is kept, and a later page with the right file delivers it', async ({
  run,
}) => {
  await integrity.expectTamperedModuleKept(run)
})

for (const route of ['module', 'classic'] as const) {
  test(`${route} route, the entry pinned but no import-map entries for the modules it loads later: "did not load" at once, the order kept`, async ({
    run,
  }) => {
    await integrity.expectUnpinnedModulesKept(run, route)
  })
}

test('a remote plugin loaded by analytics-next (no integrity) is blocked before it runs; pinned by the page, it delivers', async ({
  run,
}) => {
  await integrity.expectRemotePluginBlocked(run)
  await integrity.expectPinnedRemotePluginDelivers(run)
})

test('the classic snippet without crossorigin: its script is refused, the plugin never loads', async ({ run }) => {
  await integrity.expectClassicWithoutCorsRefused(run)
})

test('WebKitGTK refuses a static import of a module the import map pins, under the policy: why the snippet uses import()', async ({
  driver,
  integritySite: site,
}) => {
  await driver.get(await integrity.staticImportPage(site))
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(await driver.executeScript('return window.imported ?? "refused"')).toBe('refused')
  // Refused before it was asked for: the import map's integrity for it went unseen.
  expect(site.cdnRequests).toEqual([])
})
