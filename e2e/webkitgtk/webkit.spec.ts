/**
 * The plugin in WebKit (WebKitGTK's MiniBrowser over WebDriver), loaded from the built files: every
 * promise that depends on the engine. The seed order, a page that leaves right after `track` (and the
 * next page finishing it), Trustpilot down, back online, Retry-After, storage that throws or holds
 * junk, two tabs and a reload, consent, strict CSP, the console's privacy, the remote plugin and the
 * module from a CDN on another origin, the script transport, and the example shop's guarantees (its
 * relay getting an order past the buyer's content blocker included). Safari's engine is where most
 * buyers meet a thank-you page. Each test mirrors one of the Playwright suite's (named beside it), through
 * WebDriver: what the page saw is read from the page itself.
 */
import { readFileSync } from 'node:fs'
import { By, type WebDriver } from 'selenium-webdriver'
import { startExample } from '../../scripts/start'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY, SEED_SENT } from '../../test/support/fixtures'
import type { StandIn } from '../../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../../test/support/static-server'
import { DENIED, DROPPED, GRANTED, MAPPINGS } from '../support/consent'
import { expectBackOnlineSendsAtOnce, expectRetryAfterHonoured, orderWhileDown } from '../support/delivery-flows'
import { remotePluginCdnSettings, type StartOptions, strictCsp } from '../support/fixtures'
import { beaconOutcomesTo, type OutcomeReports, outcomeReportsFixture } from '../support/no-storage'
import { createdCount, expectCreatedOnce, order, requestsFor, standInSettings } from '../support/orders'
import { consoleOfAnOrderFlow, expectNoEmail, expectReasonsAndInvitations } from '../support/privacy'
import { startRelayShop } from '../support/relay-shop'
import {
  expectPathEndpointFails,
  expectSentInOneRequest,
  FRAME_PROBE_SCRIPT,
  FRAME_STATE_SCRIPT,
  type FrameState,
  type OpaqueFrame,
  SANDBOX_SHAPES,
  type SandboxHost,
  type SandboxShape,
  sandboxHostFixture,
} from '../support/sandbox-host'
import { expectTrustedTypesRefused, NONCE, nonceCsp, serveCdn, serveStrictPages } from '../support/strict-pages'
import { waitUntil } from '../support/webkitgtk'
import { expect, test, WebDriverShop } from './webdriver'

const settingsFor = standInSettings({ apiKey: 'webkit-key', timeoutMs: 1_000 })
/** A page of the shop that is not the harness, for the buyer to leave to. */
const elsewhere = (baseURL: string) => `${baseURL}/e2e/pages/elsewhere.html`
const harness = (baseURL: string, query = '') => `${baseURL}/e2e/pages/harness.html${query}`
/** The suite's fixtures, and the servers the storage and sandboxed-frame tests read from. */
const withServers = test.extend<{ reports: OutcomeReports; host: SandboxHost }>({
  reports: outcomeReportsFixture,
  host: sandboxHostFixture,
})

/**
 * `files` of dist/ and every file they import statically, by name: what a page that loads them
 * fetches (e.g. the chunk the entry and the later bundles share), read from the build itself.
 */
function withStaticImports(files: string[]): string[] {
  const all = new Set<string>()
  const visit = (file: string) => {
    if (all.has(file)) return
    all.add(file)
    for (const [, imported] of readFileSync(`dist/${file}`, 'utf8').matchAll(/(?:from|import)\s*"\.\/([^"]+)"/g)) {
      visit(imported as string)
    }
  }
  for (const file of files) visit(file)
  return [...all].sort()
}

test('seed order: 202, the products request, 201, outcome sent', async ({ shop, trustpilotApi }) => {
  await shop.open({ via: 'module', settings: { apiKey: API_KEY } })
  await shop.track('Order Completed', SEED_PROPERTIES)
  const outcome = await shop.waitForOutcome('sent')
  // WebDriver returns the absent `error` as null.
  expect(outcome).toEqual({ ...SEED_SENT, error: null })
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
    // The default timeoutMs: the dead page's lease (3 × 10 s + 2 s) would keep the next page off for
    // 32 s; only the dead-page rule (its owner lock is free) lets it finish within 5 s.
    const settings = { ...settingsFor(standIn), timeoutMs: 10_000 }
    await shop.open({ settings })
    await shop.trackThenLeave(order(`leave-${flow}`), elsewhere(site.url))
    await expect.poll(() => requestsFor(standIn, `leave-${flow}`).length).toBeGreaterThanOrEqual(1)
    expect(requestsFor(standIn, `leave-${flow}`)[0]?.status).toBe(flow)
    standIn.latencyMs = 0
    const loaded = Date.now()
    await shop.open({ settings })
    await expect.poll(() => createdCount(standIn, `leave-${flow}`), { timeout: 5_000 }).toBeGreaterThanOrEqual(1)
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
  await orderWhileDown(shop, standIn, settingsFor(standIn), 'down')
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
  // Nothing outlives the page, so every request carries the products (docs/delivery.md, "Without storage").
  expect(requestsFor(standIn, 'nostorage').map((r) => [r.status, 'products' in r.body])).toEqual([
    [500, true],
    [201, true],
  ])
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

/**
 * The plugin's files this page fetched from `origin` (the page's own when absent), by name, sorted,
 * from the browser's resource timing.
 */
const pluginFiles = async (shop: WebDriverShop, origin?: string) =>
  (
    await shop.driver.executeScript<string[]>(
      `return performance.getEntriesByType('resource').map((e) => new URL(e.name))
        .filter((u) => u.origin === (arguments[0] ?? location.origin) && u.pathname.startsWith('/dist/'))
        .map((u) => u.pathname.slice(6))`,
      origin,
    )
  ).sort()

test('a page with no order fetches only the entry; a checkout event fetches the delivery module ahead', async ({
  shop,
  trustpilotApi,
}) => {
  await shop.open({ settings: { apiKey: API_KEY } })
  await shop.track('Product Viewed', { product_id: 'p-1' })
  await shop.driver.sleep(500)
  expect(await pluginFiles(shop)).toEqual(withStaticImports(['index.js']))
  await shop.track('Checkout Started', { order_id: 'ahead' })
  await expect.poll(() => pluginFiles(shop)).toEqual(withStaticImports(['index.js', 'delivery.js']))
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  expect(await pluginFiles(shop)).toEqual(withStaticImports(['index.js', 'delivery.js']))
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

// Mirrors delivery.spec.ts "the same order tracked three times and the page reloaded".
test('the same order tracked three times and the page reloaded: one invitation', async ({ shop, standIn }) => {
  await shop.open({ settings: settingsFor(standIn) })
  for (let i = 0; i < 3; i++) await shop.track('Order Completed', order('thrice'))
  await shop.waitForOutcome('sent', 'thrice')
  const skipped = (await shop.outcomes()).filter((o) => o.status === 'skipped')
  expect(skipped.map((o) => o.reason)).toEqual(['already invited or pending', 'already invited or pending'])
  await shop.driver.navigate().refresh()
  await shop.start({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('thrice'))
  await shop.waitForOutcome('skipped', 'thrice')
  await expectCreatedOnce(standIn, 'thrice')
  expect(requestsFor(standIn, 'thrice')).toHaveLength(2)
})

// Mirrors delivery.spec.ts "two tabs opened on one pending outbox".
test('two tabs opened on one pending outbox: one invitation', async ({ shop, standIn, site }) => {
  await orderWhileDown(shop, standIn, settingsFor(standIn), 'tabs')
  await shop.driver.get(elsewhere(site.url))
  await standIn.up()
  // Slow answers keep one tab's requests out while the other looks at the outbox: the race the
  // lease and the entry's Web Lock are there for, whichever tab gets there first.
  standIn.latencyMs = 500
  const { driver } = shop
  const first = await driver.getWindowHandle()
  await driver.get(harness(site.url))
  await driver.switchTo().newWindow('tab')
  const second = await driver.getWindowHandle()
  await driver.get(harness(site.url))
  // Both tabs loaded, the plugin started in both at the same moment, so both find the same pending
  // invitation at load and race for it, as in the Playwright suite. WebDriver drives one tab at a
  // time, so the first tab waits for the second's word on a BroadcastChannel.
  await driver.switchTo().window(first)
  await driver.executeScript("new BroadcastChannel('go').onmessage = () => window.start(arguments[0])", {
    settings: settingsFor(standIn),
  })
  await driver.switchTo().window(second)
  await driver.executeScript("new BroadcastChannel('go').postMessage('go'); window.start(arguments[0])", {
    settings: settingsFor(standIn),
  })
  await expectCreatedOnce(standIn, 'tabs')
  expect(requestsFor(standIn, 'tabs').map((r) => r.status)).toEqual([202, 201])
  // Exactly one of the tabs reports it sent; both had the plugin running.
  const sent: number[] = []
  for (const tab of [first, second]) {
    await driver.switchTo().window(tab)
    await waitUntil(() => driver.executeScript<boolean>('return !!window.analytics'), 5_000, 'a tab never started')
    sent.push((await shop.outcomes()).filter((o) => o.status === 'sent').length)
  }
  expect(sent.sort()).toEqual([0, 1])
})

// Mirrors delivery.spec.ts "back online". WebDriver can't take WebKitGTK off the network, so the
// page gets the event the browser fires when it is back; what is tested is WebKit's side of it.
test('back online: a pending invitation goes at once, not after its backoff', async ({ shop, standIn }) => {
  await expectBackOnlineSendsAtOnce(shop, standIn, settingsFor(standIn), () =>
    shop.driver.executeScript("window.dispatchEvent(new Event('offline')); window.dispatchEvent(new Event('online'))"),
  )
})

// Mirrors delivery.spec.ts "429 with Retry-After waits as told".
test('429 with Retry-After waits as told', async ({ shop, standIn }) => {
  await expectRetryAfterHonoured(shop, standIn, settingsFor(standIn))
})

// Mirrors delivery.spec.ts "corrupt stored data is ignored and logged".
test('corrupt stored data is ignored and logged', async ({ shop, standIn }) => {
  const prefix = 'analytics-plugin-trustpilot:webkit-key:'
  await shop.seedStorage(`${prefix}broken`, '{not json')
  await shop.seedStorage(`${prefix}odd`, JSON.stringify({ step: 'invite' }))
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('after-corruption'))
  await expectCreatedOnce(standIn, 'after-corruption')
  const warnings = (await shop.consoleLines()).filter((line) => line.startsWith('warn: ')).join('\n')
  expect(warnings).toMatch(new RegExp(`stored record "${prefix}broken" is not valid; ignored it`))
  expect(warnings).toMatch(new RegExp(`stored record "${prefix}odd" is not valid; ignored it`))
  expect(await shop.storedKeys()).toEqual([`${prefix}after-corruption`])
})

// Mirrors platform.spec.ts "consent".
test('consent: sent only when every listed category is granted; skipped with a reason otherwise', async ({
  shop,
  trustpilotApi,
}) => {
  await shop.open({ settings: { apiKey: API_KEY, consentCategories: ['Marketing', 'Analytics'] } })
  const stamp = (categoryPreferences: Record<string, boolean>) => ({ context: { consent: { categoryPreferences } } })
  const denied = stamp({ Marketing: true, Analytics: false })
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'denied' }, denied)
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'unstamped' })
  const granted = stamp({ Marketing: true, Analytics: true })
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'granted' }, granted)
  await shop.waitForOutcome('sent', 'granted')
  expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['granted', 'granted'])
  const skipped = (await shop.outcomes()).filter((o) => o.status === 'skipped')
  // WebDriver returns the absent `error` as null.
  expect(skipped).toEqual([
    { status: 'skipped', referenceId: 'denied', reason: 'consent not granted for: Analytics', error: null },
    {
      status: 'skipped',
      referenceId: 'unstamped',
      reason: 'no consent stamp (context.consent.categoryPreferences); consentCategories requires one',
      error: null,
    },
  ])
})

// Mirrors hardening.spec.ts "strict CSP". The harness records violations from its first script on.
test.describe('strict CSP: no unsafe-inline, no unsafe-eval', () => {
  test("transport 'api': an invitation is sent with zero violations", async ({ shop, standIn }) => {
    const csp = strictCsp(standIn.url)
    await shop.open({ settings: settingsFor(standIn) }, `/e2e/pages/harness.html?csp=${encodeURIComponent(csp)}`)
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(standIn.created.get(SEED_PROPERTIES.order_id)).toBe(1)
    expect(await shop.violations()).toEqual([])
  })

  test("transport 'script': tp.min.js (the stand-in) and its iframe deliver with zero violations", async ({
    shop,
    standIn,
  }) => {
    const csp = `${strictCsp(standIn.url, ` ${standIn.url}`)}; frame-src ${standIn.simplicityUrl}`
    await shop.open(
      { settings: { ...settingsFor(standIn), transport: 'script' } },
      `/e2e/pages/harness.html?csp=${encodeURIComponent(csp)}`,
    )
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
    await expect.poll(() => requestsFor(standIn, SEED_FIRST_BODY.referenceId).length).toBe(2)
    expect(await shop.violations()).toEqual([])
  })

  test('a policy that leaves the endpoint out is seen as a violation and reported', async ({ shop, standIn }) => {
    // The check above can fail: WebKit reports the violation to the page, and the recorder hears it.
    const csp = strictCsp('https://invitejs.trustpilot.com')
    await shop.open(
      { settings: { ...settingsFor(standIn), maxAttempts: 1 } },
      `/e2e/pages/harness.html?csp=${encodeURIComponent(csp)}`,
    )
    await shop.track('Order Completed', SEED_PROPERTIES)
    const failed = await shop.waitForOutcome('failed')
    expect(failed?.reason).toMatch(/network error/)
    expect(await shop.violations()).toEqual([`connect-src ${standIn.url}/api/webkit-key/invitation`])
    expect(standIn.requests).toEqual([])
  })
})

// Mirrors hardening.spec.ts "privacy: the console": the same flow and checks (e2e/support/privacy.ts).
test.describe('privacy: the console', () => {
  test('debug off: no email address reaches the console', async ({ shop, trustpilotApi }) => {
    const lines = await consoleOfAnOrderFlow(shop, false)
    expect(trustpilotApi.requests.length).toBe(2)
    expectNoEmail(lines)
  })

  test('debug on: reasons and outcomes are on the console, invitations included', async ({ shop, trustpilotApi }) => {
    const lines = await consoleOfAnOrderFlow(shop, true)
    expect(trustpilotApi.requests.length).toBe(2)
    expectReasonsAndInvitations(lines)
  })
})

// Mirrors split.spec.ts "from a CDN on another origin".
test.describe('from a CDN on another origin, the module comes from beside the file that asked for it', () => {
  let cdn: StaticServer
  test.beforeAll(async () => {
    // A CDN serves modules with CORS, as jsDelivr, unpkg and Segment's CDN do: a module script from
    // another origin needs it.
    cdn = await startStaticServer('.', 0, { headers: () => ({ 'Access-Control-Allow-Origin': '*' }) })
  })
  test.afterAll(() => cdn.close())

  test('import() of dist/index.js', async ({ shop, trustpilotApi }) => {
    await shop.open({ via: 'module', base: cdn.url, settings: { apiKey: API_KEY } })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(await pluginFiles(shop, cdn.url)).toEqual(withStaticImports(['index.js', 'delivery.js']))
    expect(await pluginFiles(shop)).toEqual([])
    expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
  })

  test('dist/trustpilot.global.js as a remote plugin', async ({ shop, trustpilotApi }) => {
    const settings = shop.withEndpoint({ apiKey: API_KEY })
    await shop.open({ via: 'none', cdnSettings: remotePluginCdnSettings(cdn.url, settings) })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(await pluginFiles(shop, cdn.url)).toEqual(withStaticImports(['trustpilot.global.js', 'delivery.js']))
    expect(await pluginFiles(shop)).toEqual([])
    expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
  })
})

// The example shop (`npm start`), driven as e2e/example.spec.ts drives it in Chromium and Firefox.
// (WebDriver gives no console of WebKitGTK's, so its "no console error on load" is those engines'.)

/** The text of the last element `css` matches, in the page. */
const lastText = (driver: WebDriver, css: string) =>
  driver.executeScript<string>('return [...document.querySelectorAll(arguments[0])].at(-1)?.textContent ?? ""', css)

async function exampleMode(driver: WebDriver, mode: string, label: string) {
  // The controls are enabled once the page knows the stand-in's mode.
  await waitUntil(
    () => driver.executeScript<boolean>("return !document.getElementById('trustpilot-mode').disabled"),
    10_000,
    'no Trustpilot controls',
  )
  await driver.findElement(By.css(`#trustpilot-mode input[value="${mode}"]`)).click()
  await waitUntil(async () => (await lastText(driver, '#wire .mode-change')).includes(label), 10_000, `no "${label}"`)
}

const outcomesOf = (driver: WebDriver) => lastText(driver, '#outcomes')

test('example shop: an order while Trustpilot is down is retrying, then sent once it is back', async ({ driver }) => {
  const example = await startExample(0)
  try {
    await driver.get(example.url)
    await exampleMode(driver, 'down', 'Down (connection refused)')
    await driver.findElement(By.id('place-order')).click()
    const id = /Order (order-\w+) placed/.exec(await lastText(driver, '#status'))?.[1] as string
    expect(id).toBeTruthy()
    await waitUntil(async () => (await outcomesOf(driver)).includes(`retrying · ${id}`), 10_000, 'no retrying')
    await waitUntil(
      async () =>
        /attempts [1-9] · next retry in \d+ s/.test(await lastText(driver, `#storage li[data-order="${id}"]`)),
      10_000,
      'no retry waiting in storage',
    )
    expect(example.standIn?.requests).toEqual([])
    await exampleMode(driver, 'normal', 'Answering normally')
    await waitUntil(async () => (await outcomesOf(driver)).includes(`sent · ${id}`), 20_000, 'not sent')
    expect(example.standIn?.created.get(id)).toBe(1)
  } finally {
    await example.close()
  }
})

test('example shop: an order the buyer leaves right after track is delivered by the next page', async ({ driver }) => {
  const example = await startExample(0)
  try {
    await driver.get(example.url)
    await exampleMode(driver, 'slow', 'Slow (answers after 3 s)')
    await driver.findElement(By.id('order-and-leave')).click()
    let id = ''
    await waitUntil(
      async () => {
        id = /You left right after ordering (order-\w+)/.exec(await lastText(driver, '#status'))?.[1] ?? ''
        return !!id
      },
      10_000,
      'no next page',
    )
    await waitUntil(
      async () => (await outcomesOf(driver)).includes(`sent · ${id}`),
      20_000,
      'not sent by the next page',
    )
    expect(example.standIn?.created.get(id)).toBe(1)
  } finally {
    await example.close()
  }
})

// e2e/example.spec.ts's blocker and relay tests, in one: the blocker stops the direct route, and after
// the switch the relay sends the same order, from the server with the shop's Origin.
test("example shop: the buyer's content blocker stops the direct route; switched to the relay, the order is sent", async ({
  driver,
}) => {
  const example = await startExample(0)
  try {
    await driver.get(example.url)
    await waitUntil(
      () => driver.executeScript<boolean>("return !document.getElementById('blocker').disabled"),
      10_000,
      'no blocker control',
    )
    await driver.findElement(By.id('blocker')).click()
    await waitUntil(
      async () => (await lastText(driver, '#wire .mode-change')).includes('content blocker: on'),
      10_000,
      'no "content blocker: on"',
    )
    await driver.findElement(By.id('place-order')).click()
    const id = /Order (order-\w+) placed/.exec(await lastText(driver, '#status'))?.[1] as string
    expect(id).toBeTruthy()
    await waitUntil(
      async () => new RegExp(`retrying · ${id}: network error: `).test(await outcomesOf(driver)),
      10_000,
      'no retrying with a network error',
    )
    expect(await lastText(driver, '#wire li.stopped')).toContain(
      "stopped in the browser by the buyer's content blocker",
    )
    expect(example.standIn?.requests).toEqual([])
    // The switch reloads the page with ?route=relay; the order waiting in storage goes through the relay.
    await driver.findElement(By.css('#route input[value="relay"]')).click()
    await waitUntil(async () => (await driver.getCurrentUrl()).includes('?route=relay'), 10_000, 'no relay route')
    await waitUntil(async () => (await outcomesOf(driver)).includes(`sent · ${id}`), 20_000, 'not sent by the relay')
    const relayed = { origin: example.url, fromBrowser: false }
    expect(
      example.standIn?.requests.map((r) => ({ status: r.status, origin: r.origin, fromBrowser: r.fromBrowser })),
    ).toEqual([
      { status: 202, ...relayed },
      { status: 201, ...relayed },
    ])
    expect(await lastText(driver, '#wire li.request')).toContain(
      `Origin ${example.url}: the shop's, forwarded by the relay`,
    )
  } finally {
    await example.close()
  }
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

// Mirrors relay.spec.ts: `endpoint: '/trustpilot'`, the relay on the shop's own origin.
test("through the relay on the shop's origin (connect-src 'self' only): 202 → products → 201, sent", async ({
  driver,
  standIn,
}) => {
  const shopOrigin = await startRelayShop(standIn.url, [API_KEY])
  try {
    const shop = new WebDriverShop(driver, shopOrigin.url)
    const csp = strictCsp('')
    await shop.open(
      { via: 'module', settings: { apiKey: API_KEY, endpoint: '/trustpilot' } },
      `/e2e/pages/harness.html?csp=${encodeURIComponent(csp)}`,
    )
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(standIn.requests.map((r) => [r.status, 'products' in r.body, r.origin])).toEqual([
      [202, false, shopOrigin.url],
      [201, true, shopOrigin.url],
    ])
    // Same-origin: two POSTs to the shop's own server, no preflight.
    expect(shopOrigin.asked.map((r) => r.method)).toEqual(['POST', 'POST'])
    expect(await shop.violations()).toEqual([])
  } finally {
    await shopOrigin.close()
  }
})

/**
 * WebKitGTK's own way to take localStorage from every site: the WebKitSettings property
 * enable-html5-local-storage, a MiniBrowser option. localStorage is then null (a TypeError on use).
 */
const NO_LOCAL_STORAGE = '--enable-html5-local-storage=false'

test.describe(`without storage (MiniBrowser ${NO_LOCAL_STORAGE})`, () => {
  test.use({ miniBrowserArgs: [NO_LOCAL_STORAGE] })

  // Mirrors no-storage.spec.ts "the page navigates away right after track resolves".
  withServers(
    'the page leaves right after track resolves: ONE request, products and all, answered 201, one invitation',
    async ({ shop, standIn, site, reports }) => {
      const id = 'leave-nostorage'
      // Trustpilot answers after the page is gone, so the page never hears it.
      standIn.latencyMs = 300
      await shop.driver.get(harness(site.url))
      expect(
        await shop.driver.executeScript<string>(
          "try { localStorage.getItem('probe'); return 'usable' } catch (e) { return e.name }",
        ),
      ).toBe('TypeError')
      // What the page says from here on, pagehide included, reaches the reports server.
      await shop.driver.executeScript(beaconOutcomesTo(reports.url))
      await shop.start({ settings: { ...settingsFor(standIn), timeoutMs: 10_000 } })
      await shop.trackThenLeave(order(id), elsewhere(site.url))
      await expect.poll(() => requestsFor(standIn, id).length).toBeGreaterThanOrEqual(1)
      // Long past the stand-in's latency: time for a second request, were there one.
      await new Promise((r) => setTimeout(r, 1_500))
      const requests = requestsFor(standIn, id)
      expect(requests.map((r) => r.status)).toEqual([201])
      expect(requests[0]!.body).toMatchObject({ products: [{ sku: `sku-${id}` }], productSkus: [`sku-${id}`] })
      expect(standIn.created.get(id)).toBe(1)
      const said = reports.outcomes.filter((o) => o.referenceId === id).map((o) => o.status)
      test.info().annotations.push({ type: 'reported before leaving', description: JSON.stringify(said) })
      expect(said.filter((status) => status !== 'sent')).toEqual([])
    },
  )

  // Mirrors no-storage.spec.ts "Trustpilot answers 503, then the page is left". The report comes
  // from the page's pagehide, by a beacon: whether WebKit sends one then is what this shows too.
  withServers(
    "Trustpilot answers 503, then the page is left: before it goes, it reports 'retrying', kept in memory only",
    async ({ shop, standIn, site, reports }) => {
      const id = 'lost-nostorage'
      // The retry would come a minute later: the page is gone long before.
      standIn.faults.push(503)
      standIn.retryAfter = '60'
      await shop.driver.get(harness(site.url))
      await shop.driver.executeScript(beaconOutcomesTo(reports.url))
      await shop.start({ settings: settingsFor(standIn) })
      await shop.track('Order Completed', order(id))
      await expect
        .poll(() => reports.outcomes.filter((o) => o.referenceId === id).map((o) => o.status))
        .toEqual(['retrying'])
      await shop.driver.get(elsewhere(site.url))
      await expect
        .poll(() => reports.outcomes.filter((o) => o.referenceId === id))
        .toEqual([
          expect.objectContaining({ status: 'retrying', reason: expect.stringMatching(/HTTP 503/) }),
          { status: 'retrying', referenceId: id, reason: expect.stringContaining('kept in memory only') },
        ])
      const requests = requestsFor(standIn, id)
      expect(requests.map((r) => [r.status, 'products' in r.body])).toEqual([[503, true]])
      expect(standIn.created.get(id)).toBeUndefined()
    },
  )
})

/** The frame of `shape` whose origin is opaque, driven over WebDriver (e2e/support/sandbox-host.ts). */
async function openOpaqueFrame(driver: WebDriver, host: SandboxHost, shape: SandboxShape): Promise<OpaqueFrame> {
  await driver.get(host.pageFor(shape))
  if (shape === 'srcdoc') await driver.switchTo().frame(await driver.findElement(By.css('iframe')))
  await waitUntil(
    () => driver.executeScript<boolean>("return typeof window.order === 'function'"),
    10_000,
    'the sandboxed page did not start',
  )
  expect(await driver.executeScript(FRAME_PROBE_SCRIPT)).toEqual(['null', 'SecurityError'])
  return {
    order: async (settings, properties) => {
      await driver.executeScript('window.order(arguments[0], arguments[1])', settings, properties)
    },
    state: () => driver.executeScript<FrameState>(FRAME_STATE_SCRIPT),
  }
}

// Mirrors sandboxed-frame.spec.ts: one MiniBrowser session per frame, both endpoints in it.
for (const shape of SANDBOX_SHAPES) {
  withServers(
    `${shape}: a path endpoint fails at once (opaque origin, no request); a full URL one is sent in ONE request`,
    async ({ driver, host, standIn }) => {
      const failed = await expectPathEndpointFails(await openOpaqueFrame(driver, host, shape), host, standIn)
      test.info().annotations.push({ type: 'failed after', description: `${failed.afterMs} ms` })
      const request = await expectSentInOneRequest(await openOpaqueFrame(driver, host, shape), host, standIn)
      // What WebKit sends from such a frame, for docs/browsers.md.
      expect(request.origin).toBe('null')
    },
  )
}

// Mirrors strict-policies.spec.ts: WebKitGTK 2.50 enforces Trusted Types, 'strict-dynamic' and
// Integrity-Policy as Chromium and Firefox do (docs/browsers.md, "Strict script policies"). The pages
// come from the same server (e2e/support/strict-pages.ts), which writes nonces and pins itself: this
// driver can't route. WebDriver can't add a listener ahead of the page either: the page's uncaught
// errors are the Playwright engines' to check.
test.describe('strict script policies (strict-policies.spec.ts)', () => {
  let strict: StaticServer
  let cdn: StaticServer
  test.beforeAll(async () => {
    strict = await serveStrictPages()
    cdn = await serveCdn()
  })
  test.afterAll(async () => {
    await strict.close()
    await cdn.close()
  })
  const page = (query: Record<string, string>) => `${strict.url}/e2e/pages/harness.html?${new URLSearchParams(query)}`
  /** Opens `url`, starts the harness with `options`, tracks order `id` and waits for it to be sent. */
  async function expectSent(shop: WebDriverShop, standIn: StandIn, url: string, options: StartOptions, id: string) {
    await shop.driver.get(url)
    await shop.start(options)
    await shop.track('Order Completed', order(id))
    await shop.waitForOutcome('sent', id)
    await expect.poll(() => createdCount(standIn, id)).toBe(1)
  }
  const tpScriptFetches = (shop: WebDriverShop) =>
    shop.driver.executeScript<string[]>(
      "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('/tp.min.js'))",
    )

  test("Trusted Types: 'api' sent with no policy made; 'script' through the policy trustpilot; zero violations", async ({
    shop,
    standIn,
  }) => {
    await expectSent(
      shop,
      standIn,
      page({ csp: "require-trusted-types-for 'script'; trusted-types 'none'" }),
      { settings: settingsFor(standIn) },
      'tt-api',
    )
    expect(await shop.violations()).toEqual([])
    await expectSent(
      shop,
      standIn,
      page({ csp: "require-trusted-types-for 'script'; trusted-types trustpilot" }),
      { settings: settingsFor(standIn, { transport: 'script' }) },
      'tt-script',
    )
    expect(await tpScriptFetches(shop)).toEqual([`${standIn.url}/tp.min.js`])
    expect(await shop.violations()).toEqual([])
  })

  test("Trusted Types, a page that refuses the policy: 'script' ends within maxAttempts, its reason naming the policy, no violation loop", async ({
    shop,
    standIn,
  }) => {
    await shop.driver.get(page({ csp: "require-trusted-types-for 'script'; trusted-types 'none'" }))
    await shop.start({ settings: settingsFor(standIn, { transport: 'script', maxAttempts: 2 }) })
    await shop.track('Order Completed', order('tt-refused'))
    await shop.waitForOutcome('failed', 'tt-refused')
    await expectTrustedTypesRefused(
      { violations: () => shop.violations(), tpScriptFetches: () => tpScriptFetches(shop) },
      await shop.outcomes(),
      standIn,
    )
  })

  const routes = {
    'module import': () => ({}),
    'module from a CDN on another origin': () => ({ base: cdn.url }),
    'classic script': () => ({ via: 'global' }),
    'remote plugin from a CDN on another origin': (settings: Record<string, unknown>) => ({
      via: 'none',
      cdnSettings: remotePluginCdnSettings(cdn.url, settings),
    }),
  } satisfies Record<string, (settings: Record<string, unknown>) => StartOptions>
  for (const [route, start] of Object.entries(routes)) {
    test(`nonce-based strict CSP ('strict-dynamic'), ${route}: 'api' and 'script' sent with zero violations`, async ({
      shop,
      standIn,
    }) => {
      const csp = `default-src 'self'; ${nonceCsp()}; connect-src 'self' ${standIn.url}; frame-src ${standIn.simplicityUrl}`
      for (const transport of ['api', 'script'] as const) {
        const settings = settingsFor(standIn, { transport })
        await expectSent(
          shop,
          standIn,
          page({ csp, nonce: NONCE }),
          { settings, ...start(settings) },
          `nonce-${transport}`,
        )
        expect(await tpScriptFetches(shop)).toEqual(transport === 'script' ? [`${standIn.url}/tp.min.js`] : [])
        expect(await shop.violations()).toEqual([])
      }
    })
  }

  test("Integrity-Policy, every file of the page pinned: 'api' sent; 'script' blocked, ending within maxAttempts with a reason naming the integrity policy", async ({
    shop,
    standIn,
  }) => {
    const pinned = page({ pinned: '', 'integrity-policy': 'blocked-destinations=(script)' })
    await expectSent(shop, standIn, pinned, { settings: settingsFor(standIn) }, 'pinned-api')
    await shop.driver.get(pinned)
    await shop.start({ settings: settingsFor(standIn, { transport: 'script', maxAttempts: 2 }) })
    await shop.track('Order Completed', order('pinned-script'))
    await shop.waitForOutcome('failed', 'pinned-script')
    const blocked = `Trustpilot's script ${standIn.url}/tp.min.js failed to load (blocked? by the page's Integrity-Policy or CSP, or a content blocker)`
    const outcomes = (await shop.outcomes()).filter((o) => o.referenceId === 'pinned-script')
    expect(outcomes.map((o) => [o.status, o.reason.replace(/next in \d+ s/, 'next in <s> s')])).toEqual([
      ['retrying', `${blocked}; attempt 1 failed, next in <s> s`],
      ['failed', `gave up after 2 attempts; last error: ${blocked}`],
    ])
    expect(await shop.driver.executeScript('return window.tpCalls')).toBeNull()
    expect(requestsFor(standIn, 'pinned-script')).toEqual([])
  })
})
