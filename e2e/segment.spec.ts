/**
 * The plugin governed by Segment's own controls, in real analytics-next (issue 17): a shop's
 * destination middleware on every route the plugin takes onto a page, Segment's consent tools in
 * both models, outcomes tracked back into Segment, and the core flows on every analytics-next the
 * peer range names (e2e/support/analytics-versions.ts).
 */
import type { Page } from '@playwright/test'
import { HttpResponse, http } from 'msw'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY, SEED_SENT } from '../test/support/fixtures'
import { ANALYTICS_NEXT_ALIASES, analyticsNextOption, PINNED_ANALYTICS_NEXT } from './support/analytics-versions'
import { CONSENT_CDN_SETTINGS, DENIED, DROPPED, GRANTED, MAPPINGS } from './support/consent'
import { expect, remotePluginCdnSettings, type Shop, type StartOptions, test } from './support/fixtures'
import { createdCount, requestsFor } from './support/orders'
import { type HandlerServer, serveHandlers } from './support/trustpilot-server'

const settings = { apiKey: API_KEY }
const SEED_ID = SEED_FIRST_BODY.referenceId

/** The core flows run on the peer range's floor, on 1.68.0 and on the pinned latest. */
const CORE_VERSIONS = ['1.55.0', '1.68.0', PINNED_ANALYTICS_NEXT]
/** The consent tools need analytics-next 1.67 or later (their peer range): its floor and the latest. */
const CONSENT_VERSIONS = ['1.67.0', PINNED_ANALYTICS_NEXT]
for (const version of [...CORE_VERSIONS, ...CONSENT_VERSIONS]) analyticsNextOption(version)
if (ANALYTICS_NEXT_ALIASES.length < 3) throw new Error('the analytics-next aliases are missing from package.json')

/**
 * Before 1.67 (1.55.0 here), `Analytics.addDestinationMiddleware` matches the name literally
 * (`this.queue.plugins.filter((xt) => xt.name.toLowerCase() === integrationName.toLowerCase())`),
 * so `'*'` reaches no destination at all, Segment's own included; from 1.67 on it filters the plugins
 * with an `addMiddleware` method, and `'*'` means every one of them.
 */
const starReachesNothing = (version: string) => version === '1.55.0'

/**
 * The seed order as Trustpilot receives it after the shop's middleware (window.shopMiddleware below):
 * it changes the buyer's email and name (when the order has an email), and drops the orders "drop-me" (next(null)) and "leave-me"
 * (returns without calling next).
 */
const changed = { recipientEmail: 'changed@example.com', recipientName: 'Changed Buyer' }
const CHANGED_BODIES = [
  { ...SEED_FIRST_BODY, ...changed },
  { ...SEED_SECOND_BODY, ...changed },
]

/**
 * Opens the harness on `options`, with the shop's middleware defined in the page first
 * (window.shopMiddleware, which records each call in window.middlewareCalls). `beforeLoad` is what
 * the shop calls on the AnalyticsBrowser, in that order, while it buffers (before load resolved).
 */
async function open(shop: Shop, options: StartOptions, beforeLoad: Array<'middleware' | 'register'> = []) {
  await shop.page.goto('/e2e/pages/harness.html')
  await shop.page.evaluate((steps) => {
    const w = window as any
    w.middlewareCalls = []
    w.shopMiddleware = ({ payload, integration, next }: any) => {
      const { event, properties } = payload.obj
      w.middlewareCalls.push({ integration, event, order_id: properties?.order_id })
      if (event !== 'Order Completed') return next(payload)
      if (properties.order_id === 'drop-me') return next(null)
      if (properties.order_id === 'leave-me') return
      if (properties.email)
        Object.assign(properties, { email: 'changed@example.com', name: 'Changed', surname: 'Buyer' })
      next(payload)
    }
    if (steps.length) {
      w.beforeLoad = (browser: any, plugin: unknown) => {
        for (const step of steps) {
          if (step === 'middleware') browser.addDestinationMiddleware('Trustpilot', w.shopMiddleware)
          else browser.register(plugin)
        }
      }
    }
  }, beforeLoad)
  await shop.page.evaluate((o) => (window as any).start(o), {
    ...options,
    settings: shop.withEndpoint(options.settings),
  })
}

/** analytics.addDestinationMiddleware(name, window.shopMiddleware), once analytics-next has loaded. */
const addDestinationMiddleware = (page: Page, name: string) =>
  page.evaluate((n) => (window as any).analytics.addDestinationMiddleware(n, (window as any).shopMiddleware), name)

/** analytics.register(window.trustpilotPlugin) once analytics-next has loaded. */
const registerPlugin = (page: Page) =>
  page.evaluate(async () => {
    await (window as any).analytics.register((window as any).trustpilotPlugin)
  })

type Call = { integration: string; event: string; order_id?: string }
const middlewareCalls = (page: Page): Promise<Call[]> => page.evaluate(() => (window as any).middlewareCalls)

type Received = { type: string; event?: string; properties?: Record<string, any>; integrations?: Record<string, any> }
/** What the Recorder destination received, properties and integrations included. */
const receivedEvents = (page: Page): Promise<Received[]> => page.evaluate(() => (window as any).receivedEvents)

/** The analytics-next the page really runs (AnalyticsBrowser's VERSION). */
const runningVersion = (page: Page) => page.evaluate(() => new (window as any).AnalyticsBrowser().VERSION as string)

/** Tracks the two orders the shop's middleware drops, then the seed order it changes. */
async function trackDropsThenSeed(shop: Shop) {
  await shop.track('Order Completed', { order_id: 'drop-me', email: 'drop@example.com' })
  await shop.track('Order Completed', { order_id: 'leave-me', email: 'leave@example.com' })
  await shop.track('Order Completed', SEED_PROPERTIES)
}

/** The orders the shop's middleware saw, as `integration order_id`. */
const ordersSeen = async (page: Page) =>
  (await middlewareCalls(page))
    .filter((c) => c.event === 'Order Completed')
    .map((c) => `${c.integration} ${c.order_id}`)

const ALL_THREE = ['Trustpilot drop-me', 'Trustpilot leave-me', `Trustpilot ${SEED_ID}`]

type Route = {
  name: string
  options: (baseURL: string, shop: Shop) => StartOptions
  /** Registered by the test once analytics-next has loaded (analytics.register). */
  registerAfterLoad?: boolean
  /** analytics-next wraps it (ActionDestination) and applies the middleware itself. */
  wrapped?: boolean
}
const ROUTES: Route[] = [
  { name: 'npm, AnalyticsBrowser.load({ plugins })', options: () => ({ via: 'module' }) },
  { name: 'npm, analytics.register()', options: () => ({ via: 'module', register: 'none' }), registerAfterLoad: true },
  { name: 'classic script (trustpilotDestination)', options: () => ({ via: 'global' }) },
  {
    name: 'remote plugin',
    options: (baseURL, shop) => ({
      via: 'none',
      cdnSettings: remotePluginCdnSettings(baseURL, shop.withEndpoint(settings)),
    }),
    wrapped: true,
  },
]

for (const version of CORE_VERSIONS) {
  const analyticsNext = analyticsNextOption(version)
  test.describe(`analytics-next ${version}`, () => {
    test('seed order: the two requests Trustpilot expects, outcome sent', async ({ shop, page, trustpilotApi }) => {
      await shop.open({ via: 'module', settings, analyticsNext })
      expect(await runningVersion(page)).toBe(version)
      await shop.track('Order Completed', SEED_PROPERTIES)
      expect(await shop.waitForOutcome('sent')).toEqual(SEED_SENT)
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
    })

    test('remote plugin: loaded from remotePlugins, the seed order sent', async ({ shop, trustpilotApi, baseURL }) => {
      await shop.open({
        via: 'none',
        analyticsNext,
        cdnSettings: remotePluginCdnSettings(baseURL, shop.withEndpoint(settings)),
      })
      await shop.track('Order Completed', SEED_PROPERTIES)
      await shop.waitForOutcome('sent', SEED_ID)
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
    })

    test('per-order options: integrations.Trustpilot.{templateId, locale, tags} reach Trustpilot', async ({
      shop,
      trustpilotApi,
    }) => {
      await shop.open({
        via: 'module',
        analyticsNext,
        settings: { ...settings, templateId: 'default', locale: 'en-GB' },
      })
      const options = { templateId: 'swedish', locale: 'sv-SE', tags: ['sv', 'summer'] }
      await shop.track('Order Completed', SEED_PROPERTIES, { integrations: { Trustpilot: options } })
      await shop.waitForOutcome('sent', SEED_ID)
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual([
        { ...SEED_FIRST_BODY, ...options },
        { ...SEED_SECOND_BODY, ...options },
      ])
    })

    test('the page is left the moment track resolves: the invitation leaves, the next page finishes it', async ({
      shop,
      standIn,
    }) => {
      const id = 'leaving'
      const leaveSettings = { apiKey: 'leave-key', endpoint: standIn.url, timeoutMs: 10_000 }
      // Trustpilot answers after the page is gone, so the page never hears it.
      standIn.latencyMs = 300
      await shop.open({ settings: leaveSettings, analyticsNext })
      await shop.trackThenLeave({ ...SEED_PROPERTIES, order_id: id })
      await expect.poll(() => requestsFor(standIn, id).length).toBeGreaterThanOrEqual(1)
      expect(requestsFor(standIn, id)[0]?.status).toBe(202)
      standIn.latencyMs = 0
      await shop.open({ settings: leaveSettings, analyticsNext })
      await expect.poll(() => createdCount(standIn, id), { timeout: 5_000 }).toBe(1)
    })

    // Every route and name on the latest; on the older ones, what differs between versions: the
    // plugin from npm for either name, the remote plugin (analytics-next's own wrapper) for its name.
    const latest = version === PINNED_ANALYTICS_NEXT
    for (const route of ROUTES) {
      for (const name of ['Trustpilot', '*']) {
        if (!latest && !(route === ROUTES[0] || (route.wrapped && name === 'Trustpilot'))) continue
        const reaches = !(name === '*' && starReachesNothing(version))
        test(`${route.name}: addDestinationMiddleware('${name}') ${reaches ? 'changes and drops orders' : 'reaches nothing (analytics-next matches the name literally)'}`, async ({
          shop,
          page,
          trustpilotApi,
          baseURL,
        }) => {
          await open(shop, { settings, analyticsNext, ...route.options(baseURL!, shop) })
          if (route.registerAfterLoad) await registerPlugin(page)
          await addDestinationMiddleware(page, name)
          await trackDropsThenSeed(shop)
          await shop.waitForOutcome('sent', SEED_ID)
          if (!reaches) {
            // Every order sent as tracked: the middleware never ran.
            expect(await ordersSeen(page)).toEqual([])
            await shop.waitForOutcome('sent', 'leave-me')
            expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(
              expect.arrayContaining(['drop-me', 'leave-me', SEED_ID]),
            )
            return
          }
          expect(await ordersSeen(page)).toEqual(ALL_THREE)
          // Requests go in call order: a dropped order sent would be there first.
          expect(trustpilotApi.requests.map((r) => r.body)).toEqual(CHANGED_BODIES)
          const outcomes = await shop.outcomes()
          if (route.wrapped) {
            // ActionDestination drops the order before the plugin sees it: no outcome at all, only a
            // warning in the event's own context (it cancels the context, analytics-next logs that).
            expect(outcomes).toEqual([{ status: 'sent', referenceId: SEED_ID, reason: 'accepted by Trustpilot' }])
            const logs = await page.evaluate(async () => {
              const ctx = await (window as any).analytics.track('Order Completed', { order_id: 'drop-me' })
              return ctx.logs().map((l: any) => ({ level: l.level, message: l.message, extras: l.extras }))
            })
            expect(logs).toContainEqual({
              level: 'warn',
              message: 'plugin Error',
              extras: expect.objectContaining({
                plugin: 'Trustpilot',
                error: expect.objectContaining({ reason: DROPPED }),
              }),
            })
          } else {
            expect(outcomes).toEqual([
              { status: 'skipped', referenceId: 'drop-me', reason: DROPPED },
              { status: 'skipped', referenceId: 'leave-me', reason: DROPPED },
              SEED_SENT,
            ])
          }
          // Each destination gets its own copy: the Recorder saw the orders as tracked.
          const orders = (await receivedEvents(page)).filter((e) => e.event === 'Order Completed')
          expect(orders.map((e) => e.properties?.email)).toEqual([
            'drop@example.com',
            'leave@example.com',
            SEED_PROPERTIES.email,
          ])
        })
      }
    }

    test('middleware added before analytics.register(): never reaches the plugin', async ({
      shop,
      page,
      trustpilotApi,
    }) => {
      await open(shop, { via: 'module', settings, analyticsNext, register: 'none' })
      await addDestinationMiddleware(page, 'Trustpilot')
      await registerPlugin(page)
      await shop.track('Order Completed', { order_id: 'drop-me', email: 'drop@example.com' })
      await shop.waitForOutcome('sent', 'drop-me')
      expect(await ordersSeen(page)).toEqual([])
      expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['drop-me', 'drop-me'])
    })

    test('middleware added while AnalyticsBrowser buffers, plugin in load({ plugins }): reaches it', async ({
      shop,
      page,
      trustpilotApi,
    }) => {
      await open(shop, { via: 'module', settings, analyticsNext }, ['middleware'])
      await trackDropsThenSeed(shop)
      await shop.waitForOutcome('sent', SEED_ID)
      expect(await ordersSeen(page)).toEqual(ALL_THREE)
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual(CHANGED_BODIES)
    })

    // While AnalyticsBrowser buffers, calls replay once analytics-next has loaded. Up to 1.68 (1.55.0
    // and 1.68.0 here) the whole buffer replays in one pass, grouped by method in the order each
    // method was first called, each call in a task of its own: a middleware called before the
    // register() is added before the plugin is there. 1.84.3 replays register() calls first
    // (flushRegister, before the rest), so either order reaches the plugin.
    const registerReplaysFirst = latest
    for (const steps of [
      ['register', 'middleware'],
      ['middleware', 'register'],
    ] as const) {
      const reaches = steps[0] === 'register' || registerReplaysFirst
      test(`while AnalyticsBrowser buffers, ${steps.join(' then ')}(): ${reaches ? 'reaches the plugin' : 'never reaches the plugin'}`, async ({
        shop,
        page,
        trustpilotApi,
      }) => {
        await open(shop, { via: 'module', settings, analyticsNext, register: 'none' }, [...steps])
        await trackDropsThenSeed(shop)
        await shop.waitForOutcome('sent', SEED_ID)
        if (reaches) {
          expect(await ordersSeen(page)).toEqual(ALL_THREE)
          expect(trustpilotApi.requests.map((r) => r.body)).toEqual(CHANGED_BODIES)
        } else {
          expect(await ordersSeen(page)).toEqual([])
          await shop.waitForOutcome('sent', 'leave-me')
        }
      })
    }
  })
}

/** The paths of the scripts the page loaded: whether analytics-next loaded the remote plugin. */
const scriptPaths = (page: Page) =>
  page.evaluate(() => [...document.scripts].map((s) => new URL(s.src || location.href).pathname))

/** The Order Completed the Recorder received, and the consent stamp the consent tools put on it. */
async function recordedOrder(page: Page) {
  await expect.poll(async () => (await receivedEvents(page)).some((e) => e.event === 'Order Completed')).toBe(true)
  return page.evaluate(() => (window as any).receivedEvents.find((e: Received) => e.event === 'Order Completed'))
}

for (const version of CONSENT_VERSIONS) {
  const analyticsNext = analyticsNextOption(version)
  test.describe(`consent tools on analytics-next ${version}`, () => {
    const optOut = (categories: Record<string, boolean>, how: 'mappings' | 'cdn'): StartOptions => ({
      via: 'module',
      settings,
      analyticsNext,
      consent: {
        model: 'opt-out',
        categories,
        ...(how === 'mappings' ? { integrationCategoryMappings: MAPPINGS } : {}),
      },
      ...(how === 'cdn' ? { cdnSettings: CONSENT_CDN_SETTINGS } : {}),
    })

    for (const how of ['mappings', 'cdn'] as const) {
      const by =
        how === 'mappings'
          ? 'integrationCategoryMappings.Trustpilot'
          : 'the CDN settings (integrations.Trustpilot.consentSettings.categories)'
      test(`opt-out, Marketing denied, categories by ${by}: their '*' middleware drops the order`, async ({
        shop,
        page,
        trustpilotApi,
      }) => {
        await shop.open(optOut(DENIED, how))
        await shop.track('Order Completed', SEED_PROPERTIES)
        expect(await shop.waitForOutcome('skipped', SEED_ID)).toMatchObject({ reason: DROPPED })
        expect(trustpilotApi.requests).toEqual([])
        // The event itself went on: the buyer allowed Analytics, the Recorder's category.
        expect((await recordedOrder(page)).properties.order_id).toBe(SEED_ID)
      })

      test(`opt-out, Marketing granted, categories by ${by}: sent`, async ({ shop, trustpilotApi }) => {
        await shop.open(optOut(GRANTED, how))
        await shop.track('Order Completed', SEED_PROPERTIES)
        await shop.waitForOutcome('sent', SEED_ID)
        expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
      })
    }

    // The consent tools add their '*' middleware while AnalyticsBrowser buffers; analytics-next
    // replays it a task after load resolved (flushAnalyticsCallsInNewTask, a setTimeout per call).
    test('opt-out, the plugin registered as load resolves (await, then register): their middleware, replayed a task later, still drops the order', async ({
      shop,
      trustpilotApi,
    }) => {
      await shop.open({ ...optOut(DENIED, 'mappings'), register: 'after' })
      await shop.track('Order Completed', SEED_PROPERTIES)
      expect(await shop.waitForOutcome('skipped', SEED_ID)).toMatchObject({ reason: DROPPED })
      expect(trustpilotApi.requests).toEqual([])
    })

    test("opt-out, the plugin registered in a later task: the consent tools' middleware never reaches it, its consentCategories gate it", async ({
      shop,
      page,
      trustpilotApi,
    }) => {
      await shop.open({ ...optOut(DENIED, 'mappings'), register: 'none' })
      await registerPlugin(page)
      await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'ungated' })
      await shop.waitForOutcome('sent', 'ungated')
      expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['ungated', 'ungated'])
      // The plugin's own gate reads the consent stamp the consent tools put on every event.
      await shop.open({
        ...optOut(DENIED, 'mappings'),
        register: 'none',
        settings: { ...settings, consentCategories: ['Marketing'] },
      })
      await registerPlugin(page)
      await shop.track('Order Completed', SEED_PROPERTIES)
      expect(await shop.waitForOutcome('skipped', SEED_ID)).toMatchObject({
        reason: 'consent not granted for: Marketing',
      })
      expect(trustpilotApi.requests).toHaveLength(2)
    })

    test('opt-out, the plugin registered while AnalyticsBrowser buffers (before load resolved): their middleware drops the order', async ({
      shop,
      trustpilotApi,
    }) => {
      await open(shop, { ...optOut(DENIED, 'mappings'), register: 'none' }, ['register'])
      await shop.track('Order Completed', SEED_PROPERTIES)
      expect(await shop.waitForOutcome('skipped', SEED_ID)).toMatchObject({ reason: DROPPED })
      expect(trustpilotApi.requests).toEqual([])
    })

    test("opt-out, Marketing denied, the remote plugin: analytics-next's wrapper applies their middleware, the plugin never sees the order", async ({
      shop,
      page,
      trustpilotApi,
      baseURL,
    }) => {
      await shop.open({
        via: 'none',
        analyticsNext,
        consent: { model: 'opt-out', categories: DENIED, integrationCategoryMappings: MAPPINGS },
        cdnSettings: remotePluginCdnSettings(baseURL, shop.withEndpoint(settings)),
      })
      expect(await scriptPaths(page)).toContain('/dist/trustpilot.global.js')
      await shop.track('Order Completed', SEED_PROPERTIES)
      expect((await recordedOrder(page)).properties.order_id).toBe(SEED_ID)
      // Nothing reported: ActionDestination dropped it before the plugin's track.
      await page.waitForTimeout(300)
      expect(await shop.outcomes()).toEqual([])
      expect(trustpilotApi.requests).toEqual([])
    })

    const optInRemote = (baseURL: string, shop: Shop, categories: Record<string, boolean>): StartOptions => {
      const remote = remotePluginCdnSettings(baseURL, shop.withEndpoint(settings))
      return {
        via: 'none',
        analyticsNext,
        consent: { model: 'opt-in', categories },
        cdnSettings: { ...CONSENT_CDN_SETTINGS, ...remote },
      }
    }

    test('opt-in, Marketing denied: the remote plugin is never loaded', async ({
      shop,
      page,
      trustpilotApi,
      baseURL,
    }) => {
      await shop.open(optInRemote(baseURL!, shop, DENIED))
      expect(await scriptPaths(page)).not.toContain('/dist/trustpilot.global.js')
      await shop.track('Order Completed', SEED_PROPERTIES)
      expect((await recordedOrder(page)).properties.order_id).toBe(SEED_ID)
      expect(await shop.outcomes()).toEqual([])
      expect(trustpilotApi.requests).toEqual([])
    })

    test('opt-in, Marketing granted: the remote plugin loads and sends', async ({
      shop,
      page,
      trustpilotApi,
      baseURL,
    }) => {
      await shop.open(optInRemote(baseURL!, shop, GRANTED))
      expect(await scriptPaths(page)).toContain('/dist/trustpilot.global.js')
      await shop.track('Order Completed', SEED_PROPERTIES)
      await shop.waitForOutcome('sent', SEED_ID)
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
    })

    const optInRegistered = (categories: Record<string, boolean>, consentCategories?: string[]): StartOptions => ({
      via: 'module',
      analyticsNext,
      settings: consentCategories ? { ...settings, consentCategories } : settings,
      consent: { model: 'opt-in', categories, integrationCategoryMappings: MAPPINGS },
    })

    test('opt-in, Marketing denied, a registered plugin: nothing in the consent tools reaches it; consentCategories does', async ({
      shop,
      page,
      trustpilotApi,
    }) => {
      await shop.open(optInRegistered(DENIED))
      await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'ungated' })
      await shop.waitForOutcome('sent', 'ungated')
      // The consent tools stamp every event: the plugin's own gate reads the stamp.
      const order = await recordedOrder(page)
      expect(order.properties.order_id).toBe('ungated')
      await shop.open(optInRegistered(DENIED, ['Marketing']))
      await shop.track('Order Completed', SEED_PROPERTIES)
      expect(await shop.waitForOutcome('skipped', SEED_ID)).toMatchObject({
        reason: 'consent not granted for: Marketing',
      })
      expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['ungated', 'ungated'])
    })

    test('opt-in, Marketing granted, a registered plugin with consentCategories: sent', async ({
      shop,
      trustpilotApi,
    }) => {
      await shop.open(optInRegistered(GRANTED, ['Marketing']))
      await shop.track('Order Completed', SEED_PROPERTIES)
      await shop.waitForOutcome('sent', SEED_ID)
      expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
    })
  })
}

test.describe('trackOutcomes: outcomes back into Segment', () => {
  const OUTCOME_EVENTS = /^Review Invitation /
  const outcomeEvents = async (page: Page) =>
    (await receivedEvents(page)).filter((e) => OUTCOME_EVENTS.test(e.event ?? ''))
  /** Nothing that could name the buyer: no email address, no name, in any outcome event. */
  const expectNoPersonalData = (events: Received[]) => {
    const text = JSON.stringify(events)
    expect(text).not.toMatch(/@/)
    for (const word of ['John', 'Johnson', 'Changed', 'Buyer']) expect(text).not.toContain(word)
  }
  const SKIP_TO = { provider: 'Trustpilot', transport: 'api' }
  // The harness loads analytics with Segment.io off: every event carries that too.
  const OFF = { 'Segment.io': false, Trustpilot: false }

  test('sent and skipped arrive at another destination with the reference and the reason only, and never become invitations', async ({
    shop,
    page,
    trustpilotApi,
  }) => {
    await open(shop, { via: 'module', settings: { ...settings, trackOutcomes: true } })
    await addDestinationMiddleware(page, 'Trustpilot')
    await shop.track('Order Completed', { order_id: 'no-email', name: 'John', surname: 'Johnson' })
    await shop.track('Order Completed', { order_id: 'drop-me', email: 'drop@example.com', name: 'John' })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent', SEED_ID)
    // The same order again: an outcome in the page, no event.
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('skipped', SEED_ID)
    await expect.poll(async () => (await outcomeEvents(page)).length).toBe(3)
    const events = await outcomeEvents(page)
    expect(events).toEqual([
      {
        type: 'track',
        event: 'Review Invitation Skipped',
        properties: {
          order_id: 'no-email',
          reason: "no email in properties.email, context.traits.email or the user's traits",
          ...SKIP_TO,
        },
        integrations: OFF,
      },
      {
        type: 'track',
        event: 'Review Invitation Skipped',
        properties: { order_id: 'drop-me', reason: DROPPED, ...SKIP_TO },
        integrations: OFF,
      },
      {
        type: 'track',
        event: 'Review Invitation Sent',
        properties: { order_id: SEED_ID, reason: 'accepted by Trustpilot', ...SKIP_TO },
        integrations: OFF,
      },
    ])
    expectNoPersonalData(events)
    // The shop's middleware never saw them (they skip Trustpilot), and Trustpilot got the seed only.
    expect((await middlewareCalls(page)).map((c) => c.event)).not.toContain('Review Invitation Sent')
    await page.waitForTimeout(300)
    expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual([SEED_ID, SEED_ID])
    expect(await outcomeEvents(page)).toHaveLength(3)
  })

  test('retrying is no event; failed is, and the remote plugin reports too', async ({
    shop,
    page,
    trustpilotApi,
    baseURL,
  }) => {
    trustpilotApi.script = [500]
    await shop.open({
      via: 'none',
      cdnSettings: remotePluginCdnSettings(baseURL, shop.withEndpoint({ ...settings, trackOutcomes: true })),
    })
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'flaky' })
    await shop.waitForOutcome('sent', 'flaky')
    trustpilotApi.fallback = 400
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'rejected' })
    const failed = await shop.waitForOutcome('failed', 'rejected')
    expect((await shop.outcomes()).map((o) => o.status)).toEqual(['retrying', 'sent', 'failed'])
    await expect.poll(async () => (await outcomeEvents(page)).length).toBe(2)
    const events = await outcomeEvents(page)
    expect(events.map((e) => [e.event, e.properties])).toEqual([
      ['Review Invitation Sent', { order_id: 'flaky', reason: 'accepted by Trustpilot', ...SKIP_TO }],
      ['Review Invitation Failed', { order_id: 'rejected', reason: failed?.reason, ...SKIP_TO }],
    ])
    expectNoPersonalData(events)
  })
})

test.describe("Segment's own Trustpilot destination left enabled beside the plugin (docs/segment.md)", () => {
  // How the Segment app writes a cloud-mode destination into a source's CDN settings.
  const CLOUD_DESTINATION = { apiKey: API_KEY, type: 'server', bundlingStatus: 'unbundled' }
  const CORS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*' }
  /** A stand-in for Segment's API on 127.0.0.1: what the Segment.io plugin posts, per event. */
  let segmentApi: HandlerServer
  const posted: Array<{ event?: string; _metadata?: { bundled?: string[]; unbundled?: string[] } }> = []
  test.beforeAll(async () => {
    segmentApi = await serveHandlers([
      // analytics-next posts JSON across origins: the browser asks first.
      http.options('*', () => new HttpResponse(null, { status: 204, headers: CORS })),
      http.post('*/t', async ({ request }) => {
        posted.push((await request.json()) as (typeof posted)[number])
        return new HttpResponse(null, { status: 200, headers: CORS })
      }),
    ])
  })
  test.afterAll(() => segmentApi.close())
  test.beforeEach(() => {
    posted.length = 0
  })
  /** The CDN settings with Segment.io on, posting to the stand-in, and the cloud destination enabled. */
  const withCloudDestination = (cdnSettings: Record<string, unknown> = {}) => ({
    ...cdnSettings,
    integrations: {
      'Segment.io': { apiKey: 'test-write-key', apiHost: new URL(segmentApi.url).host, protocol: 'http' },
      Trustpilot: CLOUD_DESTINATION,
    },
  })
  const orderAtSegment = async () => {
    await expect.poll(() => posted.some((e) => e.event === 'Order Completed')).toBe(true)
    return posted.find((e) => e.event === 'Order Completed')
  }

  test('the browser loads nothing for it, Segment is not told the plugin sent the order, and the plugin sends too', async ({
    shop,
    page,
    trustpilotApi,
  }) => {
    const loaded: string[] = []
    page.on('request', (request) => loaded.push(request.url()))
    // loadOptions' integrations replace the harness's { 'Segment.io': false }: Segment.io is on.
    await shop.open({ via: 'module', settings, cdnSettings: withCloudDestination(), loadOptions: { integrations: {} } })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent', SEED_ID)
    expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
    // Segment's servers send to every unbundled destination: Trustpilot's own sends this order as well.
    const order = await orderAtSegment()
    expect(order?._metadata?.unbundled).toContain('Trustpilot')
    expect(order?._metadata?.bundled ?? []).not.toContain('Trustpilot')
    // No device-mode destination was fetched for it (analytics-next loads those from its CDN).
    expect(loaded.filter((url) => /next-integrations|cdn\.segment/.test(url))).toEqual([])
  })

  test("remote plugin: the destination's settings are merged over the entry's, its apiKey wins", async ({
    shop,
    baseURL,
    trustpilotApi,
  }) => {
    const entry = remotePluginCdnSettings(baseURL, shop.withEndpoint({ apiKey: 'the-entry-key' }))
    await shop.open({ via: 'none', cdnSettings: withCloudDestination(entry), loadOptions: { integrations: {} } })
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent', SEED_ID)
    expect(trustpilotApi.requests.map((r) => new URL(r.url).pathname)).toEqual([
      `/api/${API_KEY}/invitation`,
      `/api/${API_KEY}/invitation`,
    ])
    expect((await orderAtSegment())?._metadata?.unbundled).toContain('Trustpilot')
  })
})
