/**
 * Every bundler, every output: the packed package bundled into a small shop by esbuild (code-split,
 * single-file ESM, IIFE), Rollup (code-split, and a single-file IIFE with inlineDynamicImports),
 * Vite, webpack 5, and webpack 5 with webpack-subresource-integrity (e2e/support/shops.ts builds
 * them). Each is built once with a shop that registers the plugin as its bundle starts and once with
 * one that registers it later, as after consent. Every build must load with no page error and deliver an order. A bundler that inlines
 * the delivery engine evaluates it as the bundle starts, before a later shop has created the plugin:
 * nothing in it may depend on the entry having run. A split build must leave the delivery engine in
 * a file of its own that the page fetches only for an order. And `instanceof` holds across the
 * bundles: an error the delivery engine throws is an instance of the class the shop imported.
 */
import type { Page } from '@playwright/test'
import { SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from '../test/support/fixtures'
import { type StaticServer, startStaticServer } from '../test/support/static-server'
import { test as base, expect } from './support/fixtures'
import { BUNDLERS, REGISTRATIONS, type Shops, shopId, shops } from './support/shops'

const test = base.extend<object, { built: Shops & { url: string } }>({
  // Per worker, served from the build cache: the first worker of the run builds the shops, the others
  // wait for it (up to a minute or so on a busy 2-core machine, hence the timeout).
  built: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const built = await shops()
      const server: StaticServer = await startStaticServer(built.root)
      await use({ ...built, url: server.url })
      await server.close()
    },
    { scope: 'worker', timeout: 180_000 },
  ],
})

/**
 * Resolves once analytics-next has loaded in the page; rejects at the first uncaught error instead,
 * which otherwise would only show as a timeout (a bundle that throws may never set window.analytics).
 */
function loaded(page: Page): Promise<void> {
  return Promise.race([
    page.waitForFunction(() => (window as any).analytics).then(() => undefined),
    new Promise<never>((_, reject) =>
      page.on('pageerror', (error) => reject(new Error(`uncaught in the page: ${error.message}`))),
    ),
  ])
}

for (const bundler of BUNDLERS) {
  for (const registration of REGISTRATIONS) {
    test(`${bundler.title}, plugin registered ${registration}: loads cleanly and delivers an order`, async ({
      page,
      shop,
      built,
      trustpilotApi,
    }) => {
      const build = built.builds[shopId(bundler, registration)]!
      // A split build holds the delivery engine in one file of its own; a single-file build is one
      // file, and the engine is in it (so the test runs the inlined code it means to).
      if (bundler.split) {
        expect(build.deliveryFiles).toHaveLength(1)
        expect(build.files.length).toBeGreaterThan(1)
      } else {
        expect(build.files).toEqual(['shop.js'])
        expect(build.deliveryFiles).toEqual(['shop.js'])
      }
      const deliveryFile = `/${build.dir}/${build.deliveryFiles[0]}`

      const problems: string[] = []
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console.error: ${message.text()}`)
      })
      // Every file the page asks for: module and chunk loads show up as requests in both engines.
      const requested: string[] = []
      page.on('request', (request) => requested.push(new URL(request.url()).pathname))

      await page.goto(`${built.url}/${build.dir}/index.html?endpoint=${encodeURIComponent(trustpilotApi.url)}`)
      await loaded(page)
      // 'later': the bundle has started and analytics-next is up; now the shop creates the plugin
      // and registers it, as a consent callback would.
      if (registration === 'later') await page.evaluate(() => (window as any).registerLater())

      // A fresh context stores nothing, so nothing makes the plugin load delivery at start, and an
      // ordinary event must not either; the wait gives a request the time to show up.
      await shop.track('Product Viewed', { product_id: 'p-1' })
      // Said here, not only at the end: an error as the bundle loads leaves no order to wait for.
      expect(problems, 'page errors as the bundle loads and starts').toEqual([])
      if (bundler.split) {
        await page.waitForTimeout(300)
        expect(requested).not.toContain(deliveryFile)
      }

      await shop.track('Order Completed', SEED_PROPERTIES)
      await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
      if (bundler.split) expect(requested).toContain(deliveryFile)
      // Trustpilot's protocol: the invitation, then the same with products.
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
      expect(problems, 'page errors as the order is delivered').toEqual([])
      // An order Trustpilot refuses: its error, thrown by the delivery engine (a chunk of its own, or
      // inlined), is an instance of the class the shop imported from the package's entry.
      trustpilotApi.script.push(400)
      await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'refused' })
      expect(await shop.waitForOutcome('failed', 'refused')).toMatchObject({ rejected: true, retryable: false })
      // The browser logs the 400 itself; nothing else may go wrong.
      expect(problems.filter((problem) => !/status of 400/.test(problem))).toEqual([])
    })
  }
}
