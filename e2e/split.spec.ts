/**
 * The entry and the delivery module (issue 12): what each page fetches of the plugin, and what
 * happens to an order when the module is late or can't load at all. Every test loads the built
 * files the way a shop does, and runs in each engine Playwright drives.
 */
import type { Page } from '@playwright/test'
import { API_KEY, SEED_PROPERTIES } from '../test/support/fixtures'
import { startStaticServer } from '../test/support/static-server'
import { expect, remotePluginCdnSettings, type Shop, test } from './support/fixtures'

/** The plugin's files the page asked for, by name (e.g. 'index.js', 'delivery.js'), in order. */
function pluginFiles(page: Page): string[] {
  const files: string[] = []
  page.on('request', (request) => {
    const { pathname } = new URL(request.url())
    if (pathname.startsWith('/dist/')) files.push(pathname.slice('/dist/'.length))
  })
  return files
}

/** Time for a request the plugin would start to show up, when the test expects none. */
const settle = (shop: Shop) => shop.page.waitForTimeout(500)

const BROWSING = ['Products Searched', 'Product Viewed', 'Product Added', 'Cart Viewed']

test.describe('a page with no order and nothing stored fetches nothing more than the entry', () => {
  // One file either way: the ES entry holds the error classes the later bundles import from it; the
  // classic script has its own copy.
  for (const [via, entry] of [
    ['module', ['index.js']],
    ['global', ['trustpilot.global.js']],
  ] as const) {
    test(`loaded as ${via === 'module' ? 'an ES module' : 'a classic script'}`, async ({ shop, trustpilotApi }) => {
      const files = pluginFiles(shop.page)
      await shop.open({ via, settings: { apiKey: API_KEY } })
      for (const event of BROWSING) await shop.track(event, { product_id: 'p-1' })
      await shop.call('page')
      await settle(shop)
      expect(files).toEqual(entry)
      expect(trustpilotApi.requests).toEqual([])
    })
  }

  test('a delivered order leaves only a tombstone: the next page fetches nothing more either', async ({
    shop,
    trustpilotApi,
  }) => {
    await shop.open({ settings: { apiKey: API_KEY } })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    const files = pluginFiles(shop.page)
    await shop.open({ settings: { apiKey: API_KEY } })
    await shop.track('Product Viewed', { product_id: 'p-1' })
    await settle(shop)
    expect(files).toEqual(['index.js'])
    expect(trustpilotApi.requests).toHaveLength(2)
  })
})

for (const event of ['Checkout Started', 'Checkout Step Viewed', 'Checkout Step Completed', 'Payment Info Entered']) {
  test(`"${event}" fetches the delivery module ahead of the order, and only it`, async ({ shop, trustpilotApi }) => {
    const files = pluginFiles(shop.page)
    await shop.open({ settings: { apiKey: API_KEY } })
    await shop.track(event, { order_id: 'ahead' })
    await expect.poll(() => files).toEqual(['index.js', 'delivery.js'])
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    // Delivered with what was fetched ahead: no second fetch, and no outbox (nothing failed).
    expect(files).toEqual(['index.js', 'delivery.js'])
    expect(trustpilotApi.requests).toHaveLength(2)
  })
}

test.describe('the delivery module cannot load', () => {
  const settings = { apiKey: API_KEY, timeoutMs: 1_000 }

  test('blocked: track resolves at once with "retrying", the order is kept, and a later page delivers it', async ({
    shop,
    trustpilotApi,
  }) => {
    await shop.open({ settings }, '/e2e/pages/harness.html?block=delivery')
    const started = Date.now()
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'kept' })
    expect(Date.now() - started).toBeLessThan(settings.timeoutMs)
    const outcome = await shop.waitForOutcome('retrying', 'kept')
    expect(outcome?.reason).toMatch(/the delivery module did not load .*; the order is kept/)
    expect(outcome?.error).toBe('RetryableError')
    // Kept in storage, with nothing of the page around it that mapping doesn't read.
    const kept = await shop.page.evaluate(() =>
      Object.keys(localStorage)
        .filter((key) => key.includes('/order:'))
        .map((key) => JSON.parse(localStorage.getItem(key) as string)),
    )
    expect(kept).toHaveLength(1)
    expect(kept[0].event.properties.order_id).toBe('kept')
    // (JSON leaves out what was undefined: this page had neither traits nor a consent stamp.)
    expect(['type', 'event', 'properties', 'integrations', 'context']).toEqual(
      expect.arrayContaining(Object.keys(kept[0].event)),
    )
    expect(['traits', 'consent']).toEqual(expect.arrayContaining(Object.keys(kept[0].event.context)))
    expect(trustpilotApi.requests).toEqual([])

    // The next page can load the module: it finds the kept order at load and delivers it.
    const files = pluginFiles(shop.page)
    await shop.open({ settings })
    await expect.poll(() => trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['kept', 'kept'])
    await shop.waitForOutcome('sent', 'kept')
    expect(files).toEqual(['index.js', 'delivery.js'])
    const left = await shop.page.evaluate(() => Object.keys(localStorage).filter((key) => key.includes('/order:')))
    expect(left).toEqual([])
  })

  test('late: track waits at most timeoutMs, and the order goes once the module arrives', async ({
    shop,
    trustpilotApi,
  }) => {
    // The module answers only after 2.5 timeouts: a slow CDN.
    await shop.page.route('**/dist/delivery.js', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 2.5 * settings.timeoutMs))
      await route.continue()
    })
    await shop.open({ settings })
    const started = Date.now()
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'late' })
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(settings.timeoutMs - 50)
    expect(waited).toBeLessThan(settings.timeoutMs + 1_000)
    const retrying = await shop.waitForOutcome('retrying', 'late')
    expect(retrying?.reason).toMatch(/the delivery module did not load within 1000 ms/)
    await shop.waitForOutcome('sent', 'late')
    expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['late', 'late'])
  })
})

test.describe('from a CDN on another origin, the module comes from beside the file that asked for it', () => {
  let cdn: Awaited<ReturnType<typeof startStaticServer>>
  test.beforeAll(async () => {
    // A CDN serves modules with CORS, as jsDelivr, unpkg and Segment's CDN do: a module script from
    // another origin needs it.
    cdn = await startStaticServer('.', 0, { headers: () => ({ 'Access-Control-Allow-Origin': '*' }) })
  })
  test.afterAll(() => cdn.close())

  const fetchedFromCdn = (page: Page) => {
    const urls: string[] = []
    page.on('request', (request) => {
      if (request.url().startsWith(cdn.url)) urls.push(new URL(request.url()).pathname)
    })
    return urls
  }

  test('import() of dist/index.js', async ({ shop, trustpilotApi }) => {
    const urls = fetchedFromCdn(shop.page)
    await shop.open({ via: 'module', base: cdn.url, settings: { apiKey: API_KEY } })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(urls).toEqual(['/dist/index.js', '/dist/delivery.js'])
    expect(trustpilotApi.requests).toHaveLength(2)
  })

  test("import() of dist/index.js: the delivery module's errors are the classes the page imported", async ({
    shop,
    trustpilotApi,
  }) => {
    trustpilotApi.fallback = 400
    await shop.open({ via: 'module', base: cdn.url, settings: { apiKey: API_KEY } })
    await shop.page.evaluate(() => {
      ;(window as any).analytics.on('trustpilot', (o: any) => {
        if (o.error) (window as any).lastError = o.error
      })
    })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('failed')
    // The same URL the page imported: delivery.js imports './index.js' back, one module per page.
    const classes = await shop.page.evaluate(async (url) => {
      const { InvitationRejectedError, RetryableError } = await import(url)
      const error = (window as any).lastError
      return { rejected: error instanceof InvitationRejectedError, retryable: error instanceof RetryableError }
    }, `${cdn.url}/dist/index.js`)
    expect(classes).toEqual({ rejected: true, retryable: false })
  })

  test('dist/trustpilot.global.js as a remote plugin', async ({ shop, trustpilotApi }) => {
    const urls = fetchedFromCdn(shop.page)
    const settings = shop.withEndpoint({ apiKey: API_KEY })
    await shop.open({ via: 'none', cdnSettings: remotePluginCdnSettings(cdn.url, settings) })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    // index.js (the error classes delivery.js imports) asked for beside delivery.js, not after it: no
    // round trip more before the first request.
    expect(urls).toEqual(['/dist/trustpilot.global.js', '/dist/index.js', '/dist/delivery.js'])
    expect(trustpilotApi.requests).toHaveLength(2)
  })
})
