/**
 * The plugin in analytics-next, loaded from the built files, against msw's fake Trustpilot.
 */
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY, SEED_SENT } from '../test/support/fixtures'
import type { FakeTrustpilot } from '../test/support/handlers'
import { expect, type Shop, test } from './support/fixtures'

const settings = { apiKey: API_KEY }

/**
 * Proves that nothing was sent for what came before: a valid order tracked last must be the only
 * thing Trustpilot saw (requests are sent in call order, so an earlier one would be there first).
 */
async function expectOnlySentinel(shop: Shop, api: FakeTrustpilot) {
  await shop.track('Order Completed', { order_id: 'sentinel', email: 'sentinel@example.com' })
  await expect.poll(() => api.requests.length).toBeGreaterThanOrEqual(1)
  await shop.waitForOutcome('sent', 'sentinel')
  expect(api.requests.map((r) => r.body.referenceId)).toEqual(['sentinel', 'sentinel'])
}

for (const via of ['module', 'global'] as const) {
  test(`seed example end to end (${via === 'module' ? 'dist/index.js' : 'dist/trustpilot.global.js'})`, async ({
    shop,
    trustpilotApi,
  }) => {
    await shop.open({ via, settings })
    await shop.track('Order Completed', SEED_PROPERTIES)
    const outcome = await shop.waitForOutcome('sent')
    expect(outcome).toEqual(SEED_SENT)
    expect(trustpilotApi.requests).toHaveLength(2)
    const [first, second] = trustpilotApi.requests
    expect(first?.url).toBe(`${trustpilotApi.url}/api/${API_KEY}/invitation`)
    expect(first?.contentType).toBe('application/json')
    expect(first?.body).toEqual(SEED_FIRST_BODY)
    expect(second?.url).toBe(first?.url)
    expect(second?.body).toEqual(SEED_SECOND_BODY)
  })
}

test('the plugin is a destination named Trustpilot with the package version', async ({ shop, page }) => {
  await shop.open({ via: 'module', settings })
  const plugin = await page.evaluate(async () => {
    const { trustpilot } = await import('/dist/index.js' as string)
    const p = trustpilot({ apiKey: 'k' })
    return { name: p.name, type: p.type, version: p.version }
  })
  const { version } = await import('../package.json', { with: { type: 'json' } }).then((m) => m.default)
  expect(plugin).toEqual({ name: 'Trustpilot', type: 'destination', version })
})

test('a missing apiKey throws at creation, naming the setting', async ({ shop, page }) => {
  await shop.open({ via: 'none' })
  const messages = await page.evaluate(async () => {
    const { trustpilot } = await import('/dist/index.js' as string)
    const attempt = (s: unknown) => {
      try {
        trustpilot(s)
        return 'no error'
      } catch (e) {
        return (e as Error).message
      }
    }
    return [attempt({}), attempt({ apiKey: '' }), attempt({ apiKey: 'k', endpoint: 'http://example.com' })]
  })
  expect(messages[0]).toMatch(/"apiKey" is required/)
  expect(messages[1]).toMatch(/"apiKey" is required/)
  expect(messages[2]).toMatch(/"endpoint" must be an https: URL/)
})

const invalidOrders: Array<[string, Record<string, unknown>, RegExp]> = [
  ['missing email', { order_id: 'o-1' }, /no email in properties\.email/],
  ['invalid email', { order_id: 'o-2', email: 'not-an-address' }, /properties\.email is not an email address/],
  ['missing order_id', { email: 'buyer@example.com' }, /properties\.order_id is missing/],
  ['empty order_id', { order_id: '', email: 'buyer@example.com' }, /properties\.order_id must be a non-empty string/],
]
for (const [name, properties, reason] of invalidOrders) {
  test(`${name}: no request, a reason naming the field`, async ({ shop, trustpilotApi }) => {
    await shop.open({ via: 'module', settings })
    await shop.track('Order Completed', properties)
    const outcome = await shop.waitForOutcome('skipped')
    expect(outcome?.reason).toMatch(reason)
    expect(outcome?.referenceId).toBe(properties.order_id || undefined)
    await expectOnlySentinel(shop, trustpilotApi)
  })
}

test('the email can come from identify traits', async ({ shop, trustpilotApi }) => {
  await shop.open({ via: 'module', settings })
  await shop.call('identify', 'user-1', { email: 'known@example.com', name: 'Known Buyer' })
  await shop.track('Order Completed', { order_id: 'o-traits' })
  await shop.waitForOutcome('sent', 'o-traits')
  expect(trustpilotApi.requests[0]?.body).toEqual({
    recipientEmail: 'known@example.com',
    recipientName: 'Known Buyer',
    referenceId: 'o-traits',
    source: 'InvitationScript',
  })
})

test('other events and call types send nothing and reach other destinations', async ({ shop, trustpilotApi }) => {
  await shop.open({ via: 'module', settings })
  await shop.track('Order Updated', SEED_PROPERTIES)
  await shop.track('order completed', SEED_PROPERTIES)
  await shop.call('page', 'Checkout', SEED_PROPERTIES)
  await shop.call('identify', 'user-1', { email: 'test@example.com' })
  await shop.call('group', 'g-1', { name: 'Acme' })
  await shop.call('alias', 'user-2')
  await shop.call('screen', 'Thanks', SEED_PROPERTIES)
  await expectOnlySentinel(shop, trustpilotApi)
  expect(await shop.received()).toEqual([
    { type: 'track', event: 'Order Updated' },
    { type: 'track', event: 'order completed' },
    { type: 'page' },
    { type: 'identify' },
    { type: 'group' },
    { type: 'alias' },
    { type: 'screen' },
    { type: 'track', event: 'Order Completed' },
  ])
  expect((await shop.outcomes()).map((o) => o.status)).toEqual(['sent'])
})

test('integrations: { Trustpilot: false } sends nothing', async ({ shop, trustpilotApi }) => {
  await shop.open({ via: 'module', settings })
  await shop.track('Order Completed', SEED_PROPERTIES, { integrations: { Trustpilot: false } })
  await expectOnlySentinel(shop, trustpilotApi)
  expect((await shop.received()).filter((r) => r.event === 'Order Completed')).toHaveLength(2)
})

test('dryRun: the order is mapped and skipped, nothing reaches Trustpilot, nothing is stored', async ({
  shop,
  page,
  trustpilotApi,
}) => {
  await shop.open({ via: 'module', settings: { ...settings, dryRun: true } })
  await shop.track('Order Completed', SEED_PROPERTIES)
  expect(await shop.waitForOutcome('skipped')).toMatchObject({
    referenceId: SEED_PROPERTIES.order_id,
    reason: 'dry run: not sent',
  })
  await page.waitForTimeout(200)
  expect(trustpilotApi.requests).toEqual([])
  expect(
    await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('analytics-plugin-trustpilot'))),
  ).toEqual([])
})

for (const behaviour of [500, 'hang'] as const) {
  test(`Trustpilot ${behaviour === 'hang' ? 'hanging' : 'answering 500'} stalls nothing`, async ({
    shop,
    page,
    trustpilotApi,
  }) => {
    trustpilotApi.fallback = behaviour
    await shop.open({ via: 'module', settings: { ...settings, timeoutMs: 60_000 } })
    // Each call must resolve while Trustpilot has not answered; a stalled track would hit the test
    // timeout long before the plugin's own 60 s request timeout.
    const calls = await page.evaluate(async () => {
      const a = (window as any).analytics
      const started = performance.now()
      await a.track('Order Completed', { order_id: 'slow-1', email: 'a@example.com' })
      await a.track('Product Viewed', { sku: 'x' })
      await a.track('Order Completed', { order_id: 'slow-2', email: 'b@example.com' })
      await a.page()
      await a.ready()
      return performance.now() - started
    })
    expect(calls).toBeLessThan(2_000)
    expect(await shop.received()).toEqual([
      { type: 'track', event: 'Order Completed' },
      { type: 'track', event: 'Product Viewed' },
      { type: 'track', event: 'Order Completed' },
      { type: 'page' },
    ])
    await expect.poll(() => trustpilotApi.requests.length).toBe(2)
    if (behaviour === 500) {
      const outcome = await shop.waitForOutcome('retrying', 'slow-1')
      expect(outcome?.reason).toMatch(/Trustpilot answered HTTP 500/)
      expect(outcome?.error).toBe('RetryableError')
    }
  })
}

const permanent: Array<[number, string, RegExp]> = [
  [251, 'IntegrationDisabledError', /integration disabled or domain blocked \(HTTP 251\)/],
  [400, 'InvitationRejectedError', /rejected the invitation \(HTTP 400\)/],
]
for (const [status, name, reason] of permanent) {
  test(`a ${status} is reported as a failure the host page can see`, async ({ shop, trustpilotApi }) => {
    trustpilotApi.fallback = status
    await shop.open({ via: 'module', settings })
    await shop.track('Order Completed', SEED_PROPERTIES)
    const outcome = await shop.waitForOutcome('failed')
    expect(outcome).toMatchObject({ referenceId: SEED_FIRST_BODY.referenceId, error: name })
    expect(outcome?.reason).toMatch(reason)
    expect(await shop.errors()).toEqual([{ code: 'delivery_failure', reason: name, message: outcome?.reason }])
    expect(trustpilotApi.requests).toHaveLength(1)
  })
}
