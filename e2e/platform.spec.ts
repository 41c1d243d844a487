/**
 * The plugin as a citizen of the Segment platform: a remote plugin configured in the Segment app,
 * an ES module loaded from a CDN next to the Segment snippet, consent, Engage audiences, optional
 * invitation fields, and Trustpilot's own script as the transport. All against the built files.
 */
import { readFileSync } from 'node:fs'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from '../test/fixtures'
import { expect, type Shop, test } from './support/fixtures'

/** Opens the harness with no plugin of its own: analytics-next loads ours as a remote plugin. */
const openRemote = (
  shop: Shop,
  baseURL: string | undefined,
  settings: Record<string, unknown>,
  integrations?: Record<string, unknown>,
) =>
  shop.open({
    via: 'none',
    cdnSettings: {
      remotePlugins: [
        {
          name: 'Trustpilot',
          creationName: 'Trustpilot',
          libraryName: 'trustpilotDestination',
          url: `${baseURL}/dist/trustpilot.global.js`,
          settings: shop.withEndpoint(settings),
        },
      ],
      ...(integrations ? { integrations } : {}),
    },
  })

test('remote plugin: analytics-next loads dist/trustpilot.global.js from remotePlugins', async ({
  shop,
  trustpilotApi,
  baseURL,
  page,
}) => {
  const scripts: string[] = []
  page.on('request', (r) => r.resourceType() === 'script' && scripts.push(new URL(r.url()).pathname))
  await openRemote(shop, baseURL, { apiKey: API_KEY })
  expect(scripts).toContain('/dist/trustpilot.global.js')
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
  expect(trustpilotApi.requests[0]?.apiKey).toBe(API_KEY)
})

test('remote plugin: settings edited in the Segment app (cdnSettings.integrations.Trustpilot) take effect', async ({
  shop,
  trustpilotApi,
  baseURL,
}) => {
  await openRemote(
    shop,
    baseURL,
    {},
    {
      Trustpilot: shop.withEndpoint({ apiKey: 'from-segment-app', source: 'SegmentApp', locale: 'da-DK' }),
    },
  )
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  expect(trustpilotApi.requests[0]?.apiKey).toBe('from-segment-app')
  expect(trustpilotApi.requests[0]?.body).toEqual({ ...SEED_FIRST_BODY, source: 'SegmentApp', locale: 'da-DK' })
})

test('remote plugin: integrations { Trustpilot: false } on an event sends nothing', async ({
  shop,
  trustpilotApi,
  baseURL,
}) => {
  await openRemote(shop, baseURL, { apiKey: API_KEY })
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'off' }, { integrations: { Trustpilot: false } })
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'on' })
  await shop.waitForOutcome('sent', 'on')
  expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['on', 'on'])
})

test('Segment snippet + the plugin imported from a CDN URL, nothing bundled', async ({ page, trustpilotApi }) => {
  const umd = 'node_modules/@segment/analytics-next/dist/umd'
  // Segment's CDN, played locally: analytics.js, its lazy bundles, and the source's settings.
  await page.route('https://cdn.segment.com/**', (route) => {
    const { pathname } = new URL(route.request().url())
    if (pathname.endsWith('/analytics.min.js')) {
      return route.fulfill({ contentType: 'text/javascript', body: readFileSync(`${umd}/standalone.js`) })
    }
    if (pathname.startsWith('/analytics-next/bundles/')) {
      return route.fulfill({
        contentType: 'text/javascript',
        body: readFileSync(`${umd}/${pathname.split('/').pop()}`),
      })
    }
    if (pathname === '/v1/projects/snippet-write-key/settings') {
      return route.fulfill({ json: { integrations: {}, metrics: { sampleRate: 0 } } })
    }
    return route.abort()
  })
  await page.goto(`/e2e/pages/snippet.html?endpoint=${encodeURIComponent(trustpilotApi.url)}`)
  await page.evaluate(() => (window as any).registered)
  await page.evaluate(() =>
    (window as any).analytics.track('Order Completed', { order_id: 'cdn-1', email: 'cdn@example.com' }),
  )
  await page.waitForFunction(() => (window as any).outcomes.some((o: { status: string }) => o.status === 'sent'))
  expect(trustpilotApi.requests.map((r) => [r.apiKey, r.body.referenceId])).toEqual([
    ['snippet-key', 'cdn-1'],
    ['snippet-key', 'cdn-1'],
  ])
})

test.describe('consent', () => {
  const settings = { apiKey: API_KEY, consentCategories: ['Marketing', 'Analytics'] }
  const stamp = (categoryPreferences: Record<string, boolean>) => ({ context: { consent: { categoryPreferences } } })

  test('sent only when every listed category is granted; skipped with a reason otherwise', async ({
    shop,
    trustpilotApi,
  }) => {
    await shop.open({ via: 'module', settings })
    await shop.track(
      'Order Completed',
      { ...SEED_PROPERTIES, order_id: 'denied' },
      stamp({ Marketing: true, Analytics: false }),
    )
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'unstamped' })
    await shop.track(
      'Order Completed',
      { ...SEED_PROPERTIES, order_id: 'granted' },
      stamp({ Marketing: true, Analytics: true }),
    )
    await shop.waitForOutcome('sent', 'granted')
    expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['granted', 'granted'])
    const skipped = (await shop.outcomes()).filter((o) => o.status === 'skipped')
    expect(skipped).toEqual([
      { status: 'skipped', referenceId: 'denied', reason: 'consent not granted for: Analytics' },
      {
        status: 'skipped',
        referenceId: 'unstamped',
        reason: 'no consent stamp (context.consent.categoryPreferences); consentCategories requires one',
      },
    ])
  })
})

test('Engage: a user in an excluded audience is not invited; identify sends nothing', async ({
  shop,
  trustpilotApi,
}) => {
  await shop.open({ via: 'module', settings: { apiKey: API_KEY, excludeAudiences: ['recent_complainers'] } })
  await shop.call('identify', 'user-1', { email: 'buyer@example.com', recent_complainers: true })
  await shop.track('Order Completed', { order_id: 'excluded', email: 'buyer@example.com' })
  const skipped = await shop.waitForOutcome('skipped', 'excluded')
  expect(skipped?.reason).toBe('the user is in the excluded audience "recent_complainers"')
  await shop.call('identify', 'user-1', { recent_complainers: false })
  await shop.track('Order Completed', { order_id: 'included', email: 'buyer@example.com' })
  await shop.waitForOutcome('sent', 'included')
  expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['included', 'included'])
})

test('templateId, locale and tags are passed to Trustpilot as given', async ({ shop, trustpilotApi }) => {
  await shop.open({
    via: 'global',
    settings: { apiKey: API_KEY, templateId: 'tmpl-42', locale: 'en-GB', tags: ['web', 'summer-sale'] },
  })
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  const extra = { templateId: 'tmpl-42', locale: 'en-GB', tags: ['web', 'summer-sale'] }
  expect(trustpilotApi.requests.map((r) => r.body)).toEqual([
    { ...SEED_FIRST_BODY, ...extra },
    { ...SEED_SECOND_BODY, ...extra },
  ])
})

test.describe("transport: 'script' (Trustpilot's own tp.min.js)", () => {
  const TP_URL = 'https://invitejs.trustpilot.com/tp.min.js'
  const settings = { apiKey: API_KEY, transport: 'script', timeoutMs: 1_000 }

  test('loads the script only on the first valid order, registers, and hands it a copy', async ({ shop, page }) => {
    let loads = 0
    await page.route(TP_URL, (route) => {
      loads++
      return route.fulfill({ contentType: 'text/javascript', body: readFileSync('e2e/pages/tp-stand-in.js') })
    })
    await shop.open({ via: 'module', settings })
    await shop.track('Product Viewed', { sku: 'x' })
    await shop.track('Order Completed', { order_id: 'no-email' })
    expect(loads).toBe(0)
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
    expect(loads).toBe(1)
    const calls = await page.evaluate(() => (window as any).tpCalls)
    expect(calls).toEqual([
      ['register', API_KEY],
      ['on', 'createInvitation'],
      ['createInvitation', SEED_SECOND_BODY],
    ])
    // A second order reuses the loaded script: no second load, no second register.
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'second' })
    await shop.waitForOutcome('sent', 'second')
    const last = (await page.evaluate(() => (window as any).tpCalls)).at(-1)
    expect(last).toEqual(['createInvitation', { ...SEED_SECOND_BODY, referenceId: 'second' }])
    expect(loads).toBe(1)
  })

  test('a blocked script is reported and stalls nothing', async ({ shop, page }) => {
    await page.route(TP_URL, (route) => route.abort('blockedbyclient'))
    await shop.open({ via: 'module', settings })
    const elapsed = await page.evaluate(async () => {
      const a = (window as any).analytics
      const started = performance.now()
      await a.track('Order Completed', { order_id: 'blocked', email: 'b@example.com' })
      await a.track('Product Viewed', {})
      await a.ready()
      return performance.now() - started
    })
    expect(elapsed).toBeLessThan(1_000)
    const outcome = await shop.waitForOutcome('retrying', 'blocked')
    expect(outcome?.reason).toMatch(/tp\.min\.js failed to load \(blocked\?\)/)
    expect(await shop.received()).toHaveLength(2)
  })

  test('a script that never answers times out', async ({ shop, page }) => {
    await page.route(TP_URL, (route) =>
      route.fulfill({ contentType: 'text/javascript', body: 'window.tp = function () {}' }),
    )
    await shop.open({ via: 'module', settings })
    await shop.track('Order Completed', { order_id: 'silent', email: 's@example.com' })
    const outcome = await shop.waitForOutcome('retrying', 'silent')
    expect(outcome?.reason).toMatch(/no answer from Trustpilot's script within 1000 ms/)
  })
})
