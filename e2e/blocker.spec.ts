/**
 * Tested against a real blocker: Debian's uBlock Origin, with the lists it ships (EasyPrivacy has
 * `||invitejs.trustpilot.com^`), in Firefox, offline. The plugin keeps its real default endpoint,
 * https://invitejs.trustpilot.com, which Firefox resolves to a loopback TLS server on port 443 in
 * front of the stand-in (e2e/support/blocker.ts). Without uBO the order lands there; with it, the
 * request never leaves the page and the outcome names the blocker; through the relay mounted on
 * the shop's own origin, the order is delivered with uBO on.
 */
import { rm } from 'node:fs/promises'
import type { Browser, BrowserContext, BrowserType, LaunchOptions } from '@playwright/test'
import { BLOCKED } from '../src/transport'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from '../test/support/fixtures'
import {
  blockerPrefs,
  CONTROL_HOST,
  findUblockOrigin,
  type Probe,
  type RefusingProxy,
  reachability,
  refuseTheInternet,
  serveTrustpilotHost,
  startProbe,
  TRUSTPILOT_HOST,
  type TrustpilotHost,
  type UblockOrigin,
  ublockEnv,
  untilFiltering,
} from './support/blocker'
import { test as base, expect, type Outcome, Shop } from './support/fixtures'
import { startRelayShop } from './support/relay-shop'

const ORDER = SEED_PROPERTIES.order_id

type Launch = {
  playwright: { firefox: BrowserType }
  launchOptions: LaunchOptions
  channel: string | undefined
  headless: boolean
}

/** Firefox as the project launches it, with the blocker test's prefs: with this uBO, or none. */
async function launchFirefox(
  { playwright, launchOptions, channel, headless }: Launch,
  refusing: RefusingProxy,
  ublock?: UblockOrigin,
): Promise<{ browser: Browser; close(): Promise<void> }> {
  const env = ublock && (await ublockEnv(ublock))
  const browser = await playwright.firefox.launch({
    ...launchOptions,
    ...(channel ? { channel } : {}),
    headless,
    ...(env ? { env } : {}),
    firefoxUserPrefs: { ...launchOptions.firefoxUserPrefs, ...blockerPrefs(ublock, refusing.port) },
  })
  return {
    browser,
    close: async () => {
      await browser.close()
      // UBLOCK_ORIGIN_PATH's home directory of its own (e2e/support/blocker.ts) goes with the browser.
      if (env?.HOME) await rm(env.HOME, { recursive: true, force: true })
    },
  }
}

type SeedOrder = (
  browser: Browser,
  origin: string,
  options: { trustpilot: boolean; endpoint?: string; cookies?: Parameters<BrowserContext['addCookies']>[0] },
) => Promise<{ shop: Shop; outcome: Outcome }>

const test = base.extend<
  { trustpilotHost: TrustpilotHost; shopIn: (browser: Browser, origin: string) => Promise<Shop>; seedOrder: SeedOrder },
  { refusing: RefusingProxy; probe: Probe; plainFirefox: Browser; ublockFirefox: Browser }
>({
  refusing: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const proxy = await refuseTheInternet()
      await use(proxy)
      await proxy.close()
    },
    { scope: 'worker' },
  ],
  probe: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const probe = await startProbe()
      await use(probe)
      await probe.close()
    },
    { scope: 'worker' },
  ],
  plainFirefox: [
    async ({ playwright, launchOptions, channel, headless, refusing }, use) => {
      const firefox = await launchFirefox({ playwright, launchOptions, channel, headless }, refusing)
      await use(firefox.browser)
      await firefox.close()
    },
    { scope: 'worker' },
  ],
  /** Firefox with uBO, returned once uBO filters (no fixed sleep): a request by Trustpilot's name refused. */
  ublockFirefox: [
    async ({ playwright, launchOptions, channel, headless, refusing, probe }, use) => {
      const ublock = findUblockOrigin()
      if ('error' in ublock) throw new Error(ublock.error)
      const firefox = await launchFirefox({ playwright, launchOptions, channel, headless }, refusing, ublock)
      try {
        const page = await firefox.browser.newPage()
        await page.goto(probe.url)
        await untilFiltering(page, probe)
        await page.close()
        await use(firefox.browser)
      } finally {
        await firefox.close()
      }
    },
    { scope: 'worker' },
  ],
  trustpilotHost: async ({ standIn }, use) => {
    const host = await serveTrustpilotHost(standIn)
    await use(host)
    await host.close()
  },
  /** A shop page in a context of its own in `browser`; the contexts close after the test, before Trustpilot's host. */
  shopIn: async ({ trustpilotHost: _up }, use) => {
    const contexts: Array<{ close(): Promise<void> }> = []
    await use(async (browser, origin) => {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: origin })
      contexts.push(context)
      return new Shop(await context.newPage())
    })
    for (const context of contexts) await context.close()
  },
  /**
   * The seed order from a shop page at `origin` in `browser` (maxAttempts: 1; `endpoint` and the
   * buyer's `cookies` where given), once the page is seen to reach the same probe under another name,
   * and Trustpilot's name as `trustpilot` says: the page, and the order's one outcome.
   */
  seedOrder: async ({ shopIn, probe }, use) => {
    await use(async (browser, origin, { trustpilot, endpoint, cookies }) => {
      const shop = await shopIn(browser, origin)
      if (cookies) await shop.page.context().addCookies(cookies)
      await shop.open({ settings: { apiKey: API_KEY, ...(endpoint ? { endpoint } : {}), maxAttempts: 1 } })
      expect(await reachability(shop.page, probe)).toEqual({ trustpilot, control: true })
      await shop.track('Order Completed', SEED_PROPERTIES)
      return { shop, outcome: await outcomeOf(shop) }
    })
  },
})

test.skip(
  ({ browserName }) => browserName !== 'firefox',
  'uBlock Origin runs in Firefox only: Chromium 156 refuses its Debian build, which is Manifest V2 ' +
    '("Cannot install extension because it uses an unsupported manifest version"), and WebKit loads no WebExtension here',
)
// In order, in one worker (two Firefox launches in all); the lock keeps any other test off port 443.
test.describe.configure({ mode: 'default', lock: 'loopback port 443' })

/** The order's one outcome (maxAttempts: 1 makes the first one final), once there is one. */
async function outcomeOf(shop: Shop) {
  await expect.poll(async () => (await shop.outcomes()).length).toBeGreaterThan(0)
  const outcomes = await shop.outcomes()
  expect(outcomes).toHaveLength(1)
  return outcomes[0]!
}

/** What the stand-in received, as the assertions compare it. */
const received = (standIn: { requests: Array<{ status: unknown; apiKey: string; body: unknown }> }) =>
  standIn.requests.map(({ status, apiKey, body }) => ({ status, apiKey, body }))
const SEED_FLOW = [
  { status: 202, apiKey: API_KEY, body: SEED_FIRST_BODY },
  { status: 201, apiKey: API_KEY, body: SEED_SECOND_BODY },
]

test('without a blocker, the default endpoint (invitejs.trustpilot.com on loopback :443) gets the seed order: 202, 201, sent', async ({
  plainFirefox,
  seedOrder,
  site,
  standIn,
  trustpilotHost,
}) => {
  // The control for the uBO tests: the same prefs but for the extension's scope, and nothing refuses Trustpilot's name.
  const { outcome } = await seedOrder(plainFirefox, site.url, { trustpilot: true })
  expect(outcome).toMatchObject({ status: 'sent', referenceId: ORDER })
  expect(received(standIn)).toEqual(SEED_FLOW)
  expect(trustpilotHost.connections.length).toBeGreaterThan(0)
  expect(new Set(trustpilotHost.connections)).toEqual(new Set([TRUSTPILOT_HOST]))
})

test('with uBlock Origin, the direct request never leaves the page: failed, and the reason names the blocker', async ({
  ublockFirefox,
  seedOrder,
  site,
  standIn,
  trustpilotHost,
}) => {
  // uBO filters this very page: Trustpilot's name refused, the same probe under another name answered.
  const { shop, outcome: failed } = await seedOrder(ublockFirefox, site.url, { trustpilot: false })
  expect(failed).toMatchObject({ status: 'failed', referenceId: ORDER })
  expect(failed.reason).toMatch(/network error: /)
  expect(failed.reason).toContain(BLOCKED)
  expect(standIn.requests).toEqual([])
  expect(trustpilotHost.connections).toEqual([])

  // The plugin's own request, word for word, to the same TLS server by a name no list has: it lands,
  // so what stopped the plugin's was Trustpilot's name, in uBO, not the server or the certificate.
  const status = await shop.page.evaluate(
    ([host, key, body]) =>
      fetch(`https://${host}/api/${key}/invitation`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        credentials: 'include',
        body: JSON.stringify(body),
      }).then(
        (r) => r.status,
        (e) => String(e),
      ),
    [CONTROL_HOST, API_KEY, SEED_FIRST_BODY] as const,
  )
  expect(status).toBe(202)
  // (Its preflight, sent without credentials, may take a connection of its own.)
  expect(new Set(trustpilotHost.connections)).toEqual(new Set([CONTROL_HOST]))
  expect(received(standIn)).toEqual([SEED_FLOW[0]])
})

/** The shop's own origin: the repository served on loopback, with the relay mounted at /trustpilot. */
test('with uBlock Origin, through the relay on the shop’s origin (endpoint: "/trustpilot"): 202, products, 201, sent', async ({
  ublockFirefox,
  seedOrder,
  standIn,
  trustpilotHost,
}) => {
  const shopServer = await startRelayShop(standIn.url, [API_KEY])
  try {
    const { outcome } = await seedOrder(ublockFirefox, shopServer.url, {
      trustpilot: false,
      endpoint: '/trustpilot',
      cookies: [{ name: 'buyer_session', value: 'b1', url: shopServer.url }],
    })
    expect(outcome).toMatchObject({ status: 'sent', referenceId: ORDER })
    const path = `/trustpilot/api/${API_KEY}/invitation`
    expect(shopServer.asked.map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${path}`, `POST ${path}`])
    expect(received(standIn)).toEqual(SEED_FLOW)
    // The relay got the buyer's cookie of the shop's origin, and sent Trustpilot the shop's Origin without it.
    for (const { cookie } of shopServer.asked) expect(cookie).toContain('buyer_session=b1')
    expect(standIn.requests.map((r) => [r.origin, r.cookie])).toEqual([
      [shopServer.url, undefined],
      [shopServer.url, undefined],
    ])
    // Nothing went to Trustpilot's host from the page.
    expect(trustpilotHost.connections).toEqual([])
  } finally {
    await shopServer.close()
  }
})
