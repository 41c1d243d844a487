/**
 * `endpoint: '/trustpilot'`: the plugin posts to the shop's own origin, where the relay
 * (dist/relay.js, on a real server) forwards to the stand-in for Trustpilot. From npm, from a CDN
 * module on another origin, and as a remote plugin (settings from CDN settings, as the Segment app's
 * would come), under a policy whose `connect-src` is only 'self': the seed order goes 202 →
 * products → 201 and ends `sent`, with no CORS preflight and nothing of the buyer's sent on.
 */

import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES } from '../test/support/fixtures'
import { type StandIn, startStandIn } from '../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../test/support/static-server'
import { expect, remotePluginCdnSettings, type StartOptions, strictCsp, test } from './support/fixtures'
import { type RelayShop, startRelayShop } from './support/relay-shop'

let standIn: StandIn
let shopOrigin: RelayShop
let cdn: StaticServer
test.beforeEach(async () => {
  standIn = await startStandIn()
  shopOrigin = await startRelayShop(standIn.url, [API_KEY])
  // A CDN serves modules with CORS, as jsDelivr and unpkg do.
  cdn = await startStaticServer('.', 0, { headers: () => ({ 'Access-Control-Allow-Origin': '*' }) })
})
test.afterEach(async () => {
  await Promise.all([standIn.close(), shopOrigin.close(), cdn.close()])
})

const settings = { apiKey: API_KEY, endpoint: '/trustpilot' }
const routes: Array<[string, () => StartOptions, () => string]> = [
  ["npm (the ES module from the page's origin)", () => ({ via: 'module', settings }), () => ''],
  ['a CDN module on another origin', () => ({ via: 'module', base: cdn.url, settings }), () => ` ${cdn.url}`],
  [
    'a remote plugin, its settings from the CDN settings',
    () => ({ via: 'none', cdnSettings: remotePluginCdnSettings(cdn.url, settings) }),
    () => ` ${cdn.url}`,
  ],
]

for (const [route, options, scriptSources] of routes) {
  test(`${route}: through the relay on the shop's origin, 202 → products → 201, sent`, async ({ shop, page }) => {
    // Only 'self' to connect to: the plugin reaches nothing but the shop's own origin.
    const csp = strictCsp('', scriptSources())
    // The buyer's session on the shop: the browser sends it to the relay, which keeps it.
    await page.context().addCookies([{ name: 'session', value: 'buyer-secret', url: shopOrigin.url }])
    await shop.open(options(), `${shopOrigin.url}/e2e/pages/harness.html?csp=${encodeURIComponent(csp)}`)
    await shop.track('Order Completed', SEED_PROPERTIES)
    const sent = await shop.waitForOutcome('sent')
    expect(sent).toMatchObject({ referenceId: SEED_FIRST_BODY.referenceId, reason: 'accepted by Trustpilot' })

    // Trustpilot saw the protocol, from the shop's origin, and none of the buyer's cookies.
    expect(standIn.requests.map((r) => [r.status, 'products' in r.body])).toEqual([
      [202, false],
      [201, true],
    ])
    expect(standIn.requests.map((r) => r.origin)).toEqual([shopOrigin.url, shopOrigin.url])
    expect(standIn.requests.map((r) => r.cookie)).toEqual([undefined, undefined])
    expect(standIn.requests[0]?.body).toMatchObject({ referenceId: SEED_FIRST_BODY.referenceId })

    // The browser asked its own origin, same-origin: two POSTs and no preflight.
    expect(shopOrigin.asked.map((r) => [r.method, r.path])).toEqual([
      ['POST', `/trustpilot/api/${API_KEY}/invitation`],
      ['POST', `/trustpilot/api/${API_KEY}/invitation`],
    ])
    expect(shopOrigin.asked.map((r) => r.origin)).toEqual([shopOrigin.url, shopOrigin.url])
    expect(shopOrigin.asked[0]?.cookie).toContain('session=buyer-secret')
    expect(await page.evaluate(() => (window as any).consoleCapture.violations)).toEqual([])
  })
}

test('a path with transport "script" is a settings error saying "api" goes with a path, and nothing is sent', async ({
  shop,
  page,
}) => {
  await page.goto(`${shopOrigin.url}/e2e/pages/harness.html`)
  const error = await page.evaluate(async () => {
    const { trustpilot } = await import('/dist/index.js' as string)
    try {
      trustpilot({ apiKey: 'k', endpoint: '/trustpilot', transport: 'script' })
    } catch (thrown) {
      return `${(thrown as Error).name}: ${(thrown as Error).message}`
    }
  })
  expect(error).toBe(
    'TypeError: Trustpilot: setting "transport" must be "api" or "script" ("api" with a path endpoint)',
  )
  expect(shop.endpoint).toBeUndefined()
  expect(shopOrigin.asked).toEqual([])
})
