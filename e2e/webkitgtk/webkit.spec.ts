/**
 * The plugin in WebKit (WebKitGTK's MiniBrowser over WebDriver), loaded from the built files: the
 * seed order, a page that leaves right after `track`, Trustpilot down, storage that throws, the
 * remote plugin and the script transport. Safari's engine is where most buyers meet a thank-you page.
 */
import type { StandIn } from '../../scripts/stand-in'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from '../../test/fixtures'
import { DENIED, DROPPED, GRANTED, MAPPINGS } from '../support/consent'
import { remotePluginCdnSettings } from '../support/fixtures'
import { expect, test } from './webdriver'

const order = (id: string) => ({ order_id: id, email: `${id}@example.com`, products: [{ sku: `sku-${id}` }] })
const settingsFor = (standIn: StandIn) => ({ apiKey: 'webkit-key', endpoint: standIn.url, timeoutMs: 1_000 })
const requestsFor = (standIn: StandIn, id: string) => standIn.requests.filter((r) => r.body.referenceId === id)
/** A page of the shop that is not the harness, for the buyer to leave to. */
const elsewhere = (baseURL: string) => `${baseURL}/e2e/pages/elsewhere.html`

test('seed order: 202, the products request, 201, outcome sent', async ({ shop, trustpilotApi }) => {
  await shop.open({ via: 'module', settings: { apiKey: API_KEY } })
  await shop.track('Order Completed', SEED_PROPERTIES)
  const outcome = await shop.waitForOutcome('sent')
  // WebDriver returns the absent `error` as null.
  expect(outcome).toEqual({
    status: 'sent',
    referenceId: SEED_FIRST_BODY.referenceId,
    reason: 'accepted by Trustpilot',
    error: null,
  })
  expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
  expect(trustpilotApi.requests.map((r) => r.contentType)).toEqual(['application/json', 'application/json'])
})

for (const flow of [202, 201] as const) {
  test(`the page leaves right after track resolves (${flow} flow): delivered, by the next page within 5 s if need be`, async ({
    shop,
    standIn,
    site,
  }) => {
    // The stand-in answers late enough that the page is gone before it hears the answer.
    standIn.latencyMs = 300
    if (flow === 201) standIn.faults.push(201)
    await shop.open({ settings: settingsFor(standIn) })
    await shop.trackThenLeave(order(`leave-${flow}`), elsewhere(site.url))
    await expect.poll(() => requestsFor(standIn, `leave-${flow}`).length).toBeGreaterThanOrEqual(1)
    expect(requestsFor(standIn, `leave-${flow}`)[0]?.status).toBe(flow)
    standIn.latencyMs = 0
    const loaded = Date.now()
    await shop.open({ settings: settingsFor(standIn) })
    await expect.poll(() => standIn.created.get(`leave-${flow}`) ?? 0, { timeout: 5_000 }).toBeGreaterThanOrEqual(1)
    test
      .info()
      .annotations.push({ type: 'created after the next page loaded', description: `${Date.now() - loaded} ms` })
    // Nothing stays pending: the next page recorded the delivery.
    await expect
      .poll(() =>
        shop.driver.executeScript<number>(
          'return Object.keys(localStorage).filter((k) => k.startsWith("analytics-plugin-trustpilot:webkit-key:")).map((k) => JSON.parse(localStorage.getItem(k))).filter((r) => !("sent" in r)).length',
        ),
      )
      .toBe(0)
  })
}

test('Trustpilot down, the buyer leaves, a later page delivers', async ({ shop, standIn, site }) => {
  await standIn.down()
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('down'))
  await shop.waitForOutcome('retrying', 'down')
  await shop.driver.get(elsewhere(site.url))
  await standIn.up()
  expect(standIn.requests).toHaveLength(0)
  await shop.open({ settings: settingsFor(standIn) })
  await shop.waitForOutcome('sent', 'down')
  expect(requestsFor(standIn, 'down').map((r) => r.status)).toEqual([202, 201])
  expect(standIn.created.get('down')).toBe(1)
})

test('localStorage that throws: delivered in-session, retries included', async ({ shop, standIn }) => {
  standIn.faults.push(500)
  await shop.open({ settings: settingsFor(standIn) }, '/e2e/pages/harness.html?storage=throws')
  await shop.track('Order Completed', order('nostorage'))
  await shop.waitForOutcome('sent', 'nostorage')
  expect((await shop.outcomes()).map((o) => o.status)).toEqual(['retrying', 'sent'])
  expect(requestsFor(standIn, 'nostorage').map((r) => r.status)).toEqual([500, 202, 201])
})

test('remote plugin: analytics-next loads dist/trustpilot.global.js (a classic script) from remotePlugins', async ({
  shop,
  trustpilotApi,
  site,
}) => {
  await shop.open({
    via: 'none',
    cdnSettings: remotePluginCdnSettings(site.url, shop.withEndpoint({ apiKey: API_KEY })),
  })
  const scripts = await shop.driver.executeScript<string[]>(
    'return [...document.scripts].map((s) => new URL(s.src || location.href).pathname)',
  )
  expect(scripts).toContain('/dist/trustpilot.global.js')
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
})

test("transport: 'script' hands the invitation to tp.min.js (the stand-in) and reports its answer", async ({
  shop,
  standIn,
}) => {
  await shop.open({ settings: { ...settingsFor(standIn), transport: 'script' } })
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
  const calls = await shop.driver.executeScript<unknown[][]>('return window.tpCalls')
  expect(calls).toEqual([
    ['register', 'webkit-key'],
    ['on', 'createInvitation'],
    ['createInvitation', SEED_SECOND_BODY],
  ])
  const scripts = await shop.driver.executeScript<string[]>('return [...document.scripts].map((s) => s.src)')
  expect(scripts).toContain(`${standIn.url}/tp.min.js`)
})

test("transport: 'script': two orders on one page are each sent; a 400 is a failure with the script's words", async ({
  shop,
  standIn,
}) => {
  await shop.open({ settings: { ...settingsFor(standIn), transport: 'script' } })
  await shop.track('Order Completed', order('script-1'))
  await shop.track('Order Completed', order('script-2'))
  await shop.waitForOutcome('sent', 'script-1')
  await shop.waitForOutcome('sent', 'script-2')
  expect((await shop.outcomes()).map((o) => o.status)).toEqual(['sent', 'sent'])
  // A fresh page, so the script's replay of an earlier products request doesn't take the fault.
  standIn.faults.push(400)
  await shop.open({ settings: { ...settingsFor(standIn), transport: 'script' } })
  await shop.track('Order Completed', order('script-bad'))
  const failed = await shop.waitForOutcome('failed', 'script-bad')
  expect(failed?.reason).toBe(
    'Trustpilot rejected the invitation through its script: Failed to create invitation: Bad Request',
  )
})

test('per-order options and product prices reach Trustpilot', async ({ shop, trustpilotApi }) => {
  await shop.open({ settings: { apiKey: API_KEY, locale: 'en-GB' } })
  await shop.track('Order Completed', SEED_PROPERTIES, { integrations: { Trustpilot: { locale: 'sv-SE' } } })
  await shop.waitForOutcome('sent')
  expect(trustpilotApi.requests.map((r) => r.body)).toEqual([
    { ...SEED_FIRST_BODY, locale: 'sv-SE' },
    { ...SEED_SECOND_BODY, locale: 'sv-SE' },
  ])
})

/** The plugin's files this page fetched, by name, from the browser's resource timing. */
const pluginFiles = (shop: { driver: { executeScript<T>(script: string): Promise<T> } }) =>
  shop.driver.executeScript<string[]>(
    "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname).filter((p) => p.startsWith('/dist/')).map((p) => p.slice(6))",
  )

test('a page with no order fetches only the entry; a checkout event fetches the delivery module ahead', async ({
  shop,
  trustpilotApi,
}) => {
  await shop.open({ settings: { apiKey: API_KEY } })
  await shop.track('Product Viewed', { product_id: 'p-1' })
  await shop.driver.sleep(500)
  expect(await pluginFiles(shop)).toEqual(['index.js'])
  await shop.track('Checkout Started', { order_id: 'ahead' })
  await expect.poll(() => pluginFiles(shop)).toEqual(['index.js', 'delivery.js'])
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  expect(await pluginFiles(shop)).toEqual(['index.js', 'delivery.js'])
  expect(trustpilotApi.requests).toHaveLength(2)
})

test('the delivery module blocked: "retrying", the order kept, and a later page that can load it delivers it', async ({
  shop,
  trustpilotApi,
}) => {
  const settings = { apiKey: API_KEY, timeoutMs: 1_000 }
  await shop.open({ settings }, '/e2e/pages/harness.html?block=delivery')
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'kept' })
  const retrying = await shop.waitForOutcome('retrying', 'kept')
  expect(retrying?.reason).toMatch(/the delivery module did not load .*; the order is kept/)
  expect(trustpilotApi.requests).toHaveLength(0)
  await shop.open({ settings })
  await shop.waitForOutcome('sent', 'kept')
  expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['kept', 'kept'])
})

// Issue 17: Segment's controls reach the plugin in WebKit too (e2e/segment.spec.ts has the rest).

test("a shop's destination middleware drops an order: no request, skipped; the next order is sent", async ({
  shop,
  trustpilotApi,
}) => {
  await shop.open({ settings: { apiKey: API_KEY } })
  await shop.driver.executeScript(
    `window.analytics.addDestinationMiddleware('Trustpilot', ({ payload, next }) =>
      next(payload.obj.properties.order_id === 'drop-me' ? null : payload))`,
  )
  await shop.track('Order Completed', { order_id: 'drop-me', email: 'drop@example.com' })
  expect(await shop.waitForOutcome('skipped', 'drop-me')).toMatchObject({ reason: DROPPED })
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
  // Requests go in call order: the dropped order, sent, would be first.
  expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
})

for (const [choice, categories] of [
  ['denied', DENIED],
  ['granted', GRANTED],
] as const) {
  test(`Segment's consent tools, opt-out, Marketing ${choice}: ${choice === 'denied' ? 'their middleware drops the order' : 'sent'}`, async ({
    shop,
    trustpilotApi,
  }) => {
    await shop.open({
      settings: { apiKey: API_KEY },
      consent: { model: 'opt-out', categories, integrationCategoryMappings: MAPPINGS },
    })
    await shop.track('Order Completed', SEED_PROPERTIES)
    if (choice === 'denied') {
      expect(await shop.waitForOutcome('skipped', SEED_FIRST_BODY.referenceId)).toMatchObject({ reason: DROPPED })
      expect(trustpilotApi.requests).toEqual([])
    } else {
      await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
    }
  })
}
