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
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from '@playwright/test'
import { integrityOf } from '../esbuild.config.mjs'
import { SEED_PROPERTIES } from '../test/support/fixtures'
import { type StaticServer, startStaticServer } from '../test/support/static-server'
import { test as base, expect } from './support/fixtures'
import * as integrity from './support/integrity'
import { type Shops, shops } from './support/shops'

const test = base.extend<
  { integritySite: integrity.IntegritySite; run: integrity.IntegrityRun },
  { built: Shops & { url: string } }
>({
  ...integrity.integritySiteFixture,
  run: async ({ shop, standIn, integritySite }, use) =>
    use({ page: integrityPage(shop.page), shop, standIn, site: integritySite }),
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
          const sri = integrityOf(entry)
          res
            .writeHead(200, {
              'Content-Type': 'text/html; charset=utf-8',
              'Integrity-Policy': integrity.INTEGRITY_POLICY,
            })
            .end(`<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>Shop</title>
<script src="./shop.js" integrity="${sri}" crossorigin="anonymous"></script>`)
          return true
        },
        headers: () => ({ 'Integrity-Policy': integrity.INTEGRITY_POLICY }),
      })
      await use({ ...built, url: server.url })
      await server.close()
    },
    { scope: 'worker', timeout: 180_000 },
  ],
})

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

const storedOrders = (page: Page) =>
  page.evaluate(() =>
    Object.keys(localStorage)
      .filter((key) => key.includes('/order:'))
      .map((key) => JSON.parse(localStorage.getItem(key) as string).event.properties.order_id as string),
  )

/** The page as the flows of e2e/support/integrity.ts drive it. */
function integrityPage(page: Page): integrity.IntegrityPage {
  return {
    async open(url, { registers = true } = {}) {
      const response = await page.goto(url)
      expect(response?.headers()['integrity-policy']).toBe(integrity.INTEGRITY_POLICY)
      if (registers) {
        await page.waitForFunction(() => (window as any).registrations.length > 0)
        await page.evaluate(() => Promise.all((window as any).registrations).then(() => true))
      }
      await page.evaluate(() => (window as any).analytics.then(() => true))
    },
    watch: () => pageWatch(page),
    storedOrders: () => storedOrders(page),
    addScript: (src) =>
      page.evaluate(
        (src) =>
          new Promise<string>((resolve) => {
            const script = document.createElement('script')
            script.src = src
            script.onload = () => resolve('loaded')
            script.onerror = () => resolve('refused')
            document.head.append(script)
          }),
        src,
      ),
    destinationType: () => page.evaluate(() => typeof (window as any).trustpilotDestination),
  }
}

for (const route of ['module', 'classic'] as const) {
  const title = route === 'module' ? 'the CDN ES-module route' : 'the classic-script route'

  test(`${title}, the printed snippet: 202 → products → 201 → sent, nothing blocked, integrity.json never fetched`, async ({
    shop,
    run,
  }) => {
    const seen = watch(shop.page)
    await integrity.expectPrintedSnippetDelivers(run, route)
    expect(seen.problems).toEqual([])
    expect(seen.requested.filter((url) => url.includes('integrity.json'))).toEqual([])
    await integrity.expectEnforced(run)
  })
}

test('with a nonce-based strict CSP as well (the snippet printed with --nonce): both routes deliver, no violation', async ({
  shop,
  standIn,
  run,
}) => {
  const seen = watch(shop.page)
  await integrity.deliverUnderNonceCsp(run)
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
  run,
}) => {
  const seen = watch(shop.page)
  await integrity.expectTamperedModuleKept(run, async (outcome) => {
    expect(outcome?.reason).toMatch(
      /^the delivery module did not load \(TypeError: .*\); the order is kept until it loads, here or on a later page$/,
    )
    expect(outcome?.error).toBe('RetryableError')
    // What the engine says: Chromium names the file and its digest; nothing else is refused.
    expect(seen.problems.filter((problem) => !problem.includes('/dist/delivery.js'))).toEqual([])
    const { violations, reports, scriptErrors } = await pageWatch(shop.page)
    expect({ violations, reports, scriptErrors }).toEqual({ violations: [], reports: [], scriptErrors: [] })
  })
})

for (const route of ['module', 'classic'] as const) {
  test(`${route} route, the entry pinned but no import-map entries for the modules it loads later: "did not load" at once, the order kept`, async ({
    shop,
    integritySite: site,
    browserName,
    run,
  }) => {
    const seen = watch(shop.page)
    await integrity.expectUnpinnedModulesKept(run, route, async () => {
      if (browserName !== 'chromium') return
      const { reports } = await pageWatch(shop.page)
      expect(reports).toContain(`integrity-violation ${site.base}delivery.js`)
      expect(seen.problems).toContain(`request failed: ${site.base}delivery.js integrity`)
    })
  })
}

test('the classic snippet without crossorigin: its script is refused (no CORS, no integrity check), the plugin never loads', async ({
  run,
}) => {
  await integrity.expectClassicWithoutCorsRefused(run)
})

test('a static import of the pinned entry from an inline module works too (WebKitGTK refuses it: e2e/webkitgtk/integrity.spec.ts)', async ({
  shop,
  integritySite: site,
}) => {
  await shop.page.goto(await integrity.staticImportPage(site))
  await expect.poll(() => shop.page.evaluate(() => (window as any).imported)).toBe('function')
  expect(site.cdnRequests).toEqual(['/dist/index.js'])
})

test.describe('analytics-next remote plugins', () => {
  test('loaded by analytics-next (its <script> has no integrity): blocked before it runs, and the page goes on', async ({
    shop,
    standIn,
    run,
  }) => {
    await integrity.expectRemotePluginBlocked(run)
    await shop.track('Order Completed', SEED_PROPERTIES)
    expect(await shop.outcomes()).toEqual([])
    expect(standIn.requests).toEqual([])
  })

  test('its script pinned by the page itself (the classic snippet\'s tag, status="loaded"): analytics-next uses it, and the order goes', async ({
    shop,
    run,
  }) => {
    const seen = watch(shop.page)
    await integrity.expectPinnedRemotePluginDelivers(run)
    expect(seen.problems).toEqual([])
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
    expect(response?.headers()['integrity-policy']).toBe(integrity.INTEGRITY_POLICY)
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
