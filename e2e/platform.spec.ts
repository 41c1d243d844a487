/**
 * The plugin as a citizen of the Segment platform: a remote plugin from the source's CDN settings,
 * an ES module loaded from a CDN next to the Segment snippet, consent, Engage audiences, optional
 * invitation fields, and Trustpilot's own script as the transport. All against the built files.
 */
import { readFileSync } from 'node:fs'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from '../test/support/fixtures'
import { tpStandInScript } from '../test/support/stand-in'
import { expect, remotePluginCdnSettings, type Shop, test } from './support/fixtures'
import { requestsFor, standInSettings } from './support/orders'

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
      ...remotePluginCdnSettings(baseURL, shop.withEndpoint(settings)),
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

test("remote plugin: settings in the CDN settings' integrations.Trustpilot take effect, over the entry's", async ({
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

test('per-order options: integrations.Trustpilot on the event overrides templateId, locale and tags for that order', async ({
  shop,
  trustpilotApi,
}) => {
  await shop.open({
    via: 'module',
    settings: { apiKey: API_KEY, templateId: 'default', locale: 'en-GB', tags: ['web'] },
  })
  const buyer = (id: string) => ({ order_id: id, email: `${id}@example.com` })
  await shop.track('Order Completed', buyer('sv'), {
    integrations: { Trustpilot: { templateId: 'swedish', locale: 'sv-SE', tags: ['sv'] } },
  })
  await shop.track('Order Completed', buyer('bad'), { integrations: { Trustpilot: { locale: 42 } } })
  await shop.track('Order Completed', buyer('off'), { integrations: { Trustpilot: false } })
  await shop.track('Order Completed', buyer('plain'))
  await shop.waitForOutcome('sent', 'plain')
  await shop.waitForOutcome('sent', 'sv')
  const firstOf = (id: string) => trustpilotApi.requests.find((r) => r.body.referenceId === id)?.body
  expect(firstOf('sv')).toMatchObject({ templateId: 'swedish', locale: 'sv-SE', tags: ['sv'] })
  expect(firstOf('plain')).toMatchObject({ templateId: 'default', locale: 'en-GB', tags: ['web'] })
  expect(firstOf('bad')).toBeUndefined()
  expect(firstOf('off')).toBeUndefined()
  const skipped = (await shop.outcomes()).filter((o) => o.status === 'skipped')
  expect(skipped).toEqual([
    { status: 'skipped', referenceId: 'bad', reason: 'integrations.Trustpilot.locale must be a string' },
  ])
})

test.describe("transport: 'script' (Trustpilot's own tp.min.js, played by a faithful stand-in)", () => {
  const settingsFor = standInSettings({ apiKey: API_KEY, transport: 'script', timeoutMs: 1_000 })

  test('loads the script only on the first valid order, registers, and hands it a copy', async ({
    shop,
    page,
    standIn,
  }) => {
    let loads = 0
    await page.route(`${standIn.url}/tp.min.js`, async (route) => {
      loads++
      return route.fulfill({ contentType: 'text/javascript', body: await tpStandInScript(standIn.simplicityUrl) })
    })
    await shop.open({ via: 'module', settings: settingsFor(standIn) })
    await shop.track('Product Viewed', { sku: 'x' })
    await shop.track('Order Completed', { order_id: 'no-email' })
    expect(loads).toBe(0)
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
    expect(loads).toBe(1)
    expect(await page.evaluate(() => (window as any).tpCalls)).toEqual([
      ['register', API_KEY],
      ['on', 'createInvitation'],
      ['createInvitation', SEED_SECOND_BODY],
    ])
    // What Trustpilot received: the script's own additions, and the products after its 202.
    await expect.poll(() => requestsFor(standIn, SEED_FIRST_BODY.referenceId).length).toBe(2)
    const [first, second] = requestsFor(standIn, SEED_FIRST_BODY.referenceId)
    const added = { version: '0.0.1121', simplicity: { visitor: 'stand-in' } }
    expect(first?.body).toEqual({ ...SEED_FIRST_BODY, ...added })
    expect(second?.body).toEqual({ ...SEED_SECOND_BODY, ...added })
    expect([first?.status, second?.status]).toEqual([202, 201])
    // A second order reuses the loaded script: no second load, no second register.
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'second' })
    await shop.waitForOutcome('sent', 'second')
    expect((await page.evaluate(() => (window as any).tpCalls)).slice(3)).toEqual([
      ['on', 'createInvitation'],
      ['createInvitation', { ...SEED_SECOND_BODY, referenceId: 'second' }],
    ])
    expect(loads).toBe(1)
  })

  test('several orders on one page: each is reported sent', async ({ shop, page, standIn }) => {
    await shop.open({ via: 'module', settings: settingsFor(standIn) })
    const ids = ['multi-1', 'multi-2', 'multi-3']
    await page.evaluate(
      (orders) =>
        Promise.all(
          orders.map((id) =>
            (window as any).analytics.track('Order Completed', { order_id: id, email: `${id}@example.com` }),
          ),
        ),
      ids,
    )
    for (const id of ids) await shop.waitForOutcome('sent', id)
    for (const id of ids) expect(standIn.created.get(id)).toBeGreaterThanOrEqual(1)
    expect((await shop.outcomes()).map((o) => o.status)).toEqual(['sent', 'sent', 'sent'])
    // The script's own bug, visible on the wire: each later order re-posts the previous products request.
    expect(standIn.created.get('multi-1')).toBe(2)
  })

  test("Trustpilot answers 400: failed, with the script's message, never sent", async ({ shop, standIn }) => {
    standIn.faults.push(400)
    await shop.open({ via: 'module', settings: settingsFor(standIn) })
    await shop.track('Order Completed', { order_id: 'bad', email: 'bad@example.com' })
    const failed = await shop.waitForOutcome('failed', 'bad')
    expect(failed?.error).toBe('InvitationRejectedError')
    expect(failed?.reason).toBe(
      'Trustpilot rejected the invitation through its script: Failed to create invitation: Bad Request',
    )
    expect((await shop.outcomes()).map((o) => o.status)).toEqual(['failed'])
    expect(requestsFor(standIn, 'bad').map((r) => r.status)).toEqual([400])
  })

  test("the script's iframe blocked: no callback, so never sent, only retried", async ({ shop, page, standIn }) => {
    await page.route(`${standIn.simplicityUrl}/embed`, (route) => route.abort('blockedbyclient'))
    await shop.open({ via: 'module', settings: settingsFor(standIn, { maxAttempts: 2 }) })
    await shop.track('Order Completed', { order_id: 'framed', email: 'framed@example.com' })
    const failed = await shop.waitForOutcome('failed', 'framed')
    expect(failed?.reason).toMatch(
      /gave up after 2 attempts; last error: no answer from Trustpilot's script within 1000 ms/,
    )
    expect((await shop.outcomes()).map((o) => o.status)).toEqual(['retrying', 'failed'])
    expect(standIn.requests).toEqual([])
  })

  test("a retry reaches Trustpilot: the script's marker (tpinvid) is cleared when it holds this order", async ({
    shop,
    page,
    standIn,
  }) => {
    // First page: the script's iframe never loads, so it remembers the order, sends nothing and never
    // calls back. The buyer moves on to another page of the shop.
    await page.route(`${standIn.simplicityUrl}/embed`, (route) => route.abort('blockedbyclient'))
    await shop.open({ via: 'module', settings: settingsFor(standIn) })
    await shop.track('Order Completed', { order_id: 'retried', email: 'retried@example.com' })
    await shop.waitForOutcome('retrying', 'retried')
    expect(await page.evaluate(() => localStorage.getItem('tpinvid'))).toBe('retried@example.comretried')
    await page.unroute(`${standIn.simplicityUrl}/embed`)
    // The next page retries through the script; left as it was, the marker would make the script
    // drop the order without a word.
    await shop.open({ via: 'module', settings: settingsFor(standIn) })
    await shop.waitForOutcome('sent', 'retried')
    expect(requestsFor(standIn, 'retried').map((r) => r.status)).toEqual([202, 201])
  })

  test('a blocked script is reported and stalls nothing', async ({ shop, page, standIn }) => {
    await page.route(`${standIn.url}/tp.min.js`, (route) => route.abort('blockedbyclient'))
    await shop.open({ via: 'module', settings: settingsFor(standIn) })
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
    expect(outcome?.reason).toMatch(
      /tp\.min\.js failed to load \(blocked\? by the page.s Integrity-Policy or CSP, or a content blocker\)/,
    )
    expect(await shop.received()).toHaveLength(2)
  })

  test('a script that never answers times out', async ({ shop, page, standIn }) => {
    await page.route(`${standIn.url}/tp.min.js`, (route) =>
      route.fulfill({ contentType: 'text/javascript', body: 'window.tp = function () {}' }),
    )
    await shop.open({ via: 'module', settings: settingsFor(standIn) })
    await shop.track('Order Completed', { order_id: 'silent', email: 's@example.com' })
    const outcome = await shop.waitForOutcome('retrying', 'silent')
    expect(outcome?.reason).toMatch(/no answer from Trustpilot's script within 1000 ms/)
  })
})
