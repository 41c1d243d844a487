/**
 * Playwright fixtures shared by the browser tests:
 * - `site`: the repository served on 127.0.0.1 (one per worker); tests load dist/ from it.
 * - `trustpilotApi`: the msw fake of Trustpilot (test/support/handlers.ts, the same handlers the Node tests
 *   use), served on 127.0.0.1 with @mswjs/http-middleware; `shop` points the plugin's endpoint at it.
 * - `standIn`: a real HTTP Trustpilot on 127.0.0.1 that can fail on cue and counts what it created.
 * - `shop`: opens the harness page and drives analytics-next in it. Every page of its browser
 *   context captures its console from the first script on (e2e/pages/console-capture.js).
 */
import { test as base, type Page } from '@playwright/test'
import { type FakeTrustpilot, fakeTrustpilot } from '../../test/support/handlers'
import { type StandIn, startStandIn } from '../../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../../test/support/static-server'
import { serveHandlers } from './trustpilot-server'

/** The page-side console capture: the same script in every engine. */
export const CONSOLE_CAPTURE = 'e2e/pages/console-capture.js'

/** The msw fake of Trustpilot, and the loopback origin it answers on. */
export type TrustpilotApi = FakeTrustpilot & { url: string }

export interface StartOptions {
  /** How the plugin is loaded: ES module import, classic <script>, or not at all (remote plugin). */
  via?: 'module' | 'global' | 'none'
  /** Where dist/ is loaded from (a CDN on another origin); the page's own origin when absent. */
  base?: string
  settings?: Record<string, unknown>
  cdnSettings?: Record<string, unknown>
  loadOptions?: Record<string, unknown>
  /** Run on this analytics-next (an alias in package.json, e2e/support/analytics-versions.ts); the pinned one when absent. */
  analyticsNext?: string
  /** How the plugin is added: `AnalyticsBrowser.load({ plugins })` (default), `analytics.register` after load, or not. */
  register?: 'plugins' | 'after' | 'none'
  /** Segment's consent tools wrap analytics (createWrapper) in this model, with these categories the buyer's. */
  consent?: {
    model: 'opt-in' | 'opt-out'
    categories: Record<string, boolean>
    integrationCategoryMappings?: Record<string, string[]>
  }
}

export interface Outcome {
  status: string
  referenceId?: string
  reason: string
  error?: string
}

/** `settings` with `endpoint` filled in, when there is one to fill in and the settings name none. */
export const withEndpoint = <T extends Record<string, unknown> | undefined>(settings: T, endpoint?: string): T =>
  settings && endpoint && !('endpoint' in settings) ? { endpoint, ...settings } : settings

/**
 * A strict Content Security Policy: no 'unsafe-inline', no 'unsafe-eval', scripts from the page's
 * own origin (and `script`), requests to its own origin and `connect`. The site serves it to a page
 * asked for with ?csp=<policy>; every engine's suite tests under it.
 */
export const strictCsp = (connect: string, script = '') =>
  `default-src 'self'; script-src 'self'${script}; connect-src 'self' ${connect}`

/**
 * Segment's CDN settings that make analytics-next load the plugin as a remote plugin, as the Segment
 * app configures it: `dist/trustpilot.global.js` from `baseURL`, with `settings`.
 */
export const remotePluginCdnSettings = (baseURL: string | undefined, settings: Record<string, unknown>) => ({
  remotePlugins: [
    {
      name: 'Trustpilot',
      creationName: 'Trustpilot',
      libraryName: 'trustpilotDestination',
      url: `${baseURL}/dist/trustpilot.global.js`,
      settings,
    },
  ],
})

export class Shop {
  /** Where the plugin sends invitations when a test's settings don't say: set by `trustpilotApi`. */
  endpoint: string | undefined

  constructor(readonly page: Page) {}

  /** The settings with `endpoint` filled in, when a test uses the msw fake and didn't set one. */
  withEndpoint<T extends Record<string, unknown> | undefined>(settings: T): T {
    return withEndpoint(settings, this.endpoint)
  }

  async open(options: StartOptions, path = '/e2e/pages/harness.html') {
    await this.page.goto(path)
    await this.page.evaluate((o) => (window as any).start(o), {
      ...options,
      settings: this.withEndpoint(options.settings),
    })
  }

  /** Calls analytics.track in the page and resolves when analytics-next resolved it. */
  track(event: string, properties: Record<string, unknown>, options?: Record<string, unknown>) {
    return this.page.evaluate(
      async ([e, p, o]) => {
        await (window as any).analytics.track(e, p, o)
        return true
      },
      [event, properties, options] as const,
    )
  }

  /**
   * The classic checkout redirect: tracks an Order Completed with `properties` and, the moment `track`
   * resolves, sends the page to e2e/pages/elsewhere.html. Resolves once the browser is there.
   */
  async trackThenLeave(properties: Record<string, unknown>) {
    // The evaluation itself dies with the page it navigates away from.
    await this.page
      .evaluate(async (props) => {
        await (window as any).analytics.track('Order Completed', props)
        location.href = '/e2e/pages/elsewhere.html'
      }, properties)
      .catch(() => {})
    await this.page.waitForURL('**/elsewhere.html')
  }

  call(method: string, ...args: unknown[]) {
    return this.page.evaluate(
      async ([m, a]) => {
        await (window as any).analytics[m as string](...(a as unknown[]))
        return true
      },
      [method, args] as const,
    )
  }

  outcomes(): Promise<Outcome[]> {
    return this.page.evaluate(() => (window as any).outcomes)
  }

  /** Everything the page logged, each argument serialized whole (e2e/pages/console-capture.js). */
  consoleLines(): Promise<string[]> {
    return this.page.evaluate(() => (window as any).consoleCapture.lines)
  }

  errors(): Promise<Array<{ code: string; reason?: string; referenceId?: string }>> {
    return this.page.evaluate(() => (window as any).errors)
  }

  /** What the second destination registered beside Trustpilot received. */
  received(): Promise<Array<{ type: string; event?: string }>> {
    return this.page.evaluate(() => (window as any).received)
  }

  async waitForOutcome(status: string, referenceId?: string) {
    await this.page.waitForFunction(
      ([s, r]) => (window as any).outcomes.some((o: Outcome) => o.status === s && (!r || o.referenceId === r)),
      [status, referenceId] as const,
    )
    return (await this.outcomes()).find((o) => o.status === status && (!referenceId || o.referenceId === referenceId))
  }
}

/**
 * The repository served on 127.0.0.1; a page asked for with ?csp=<policy> gets that policy. A page
 * asked for with ?block=delivery can't load the delivery module: the harness sets a cookie, and the
 * server refuses dist/delivery.js to it, as an ad blocker or a failing CDN would, in every engine,
 * WebDriver's included (which can't intercept requests). A module's Referer is the module that
 * imported it, not the page, hence the cookie.
 */
export const serveSite = () =>
  startStaticServer('.', 0, {
    handle: (url, res, req) => {
      if (url.pathname !== '/dist/delivery.js' || !req.headers.cookie?.includes('block=delivery')) return false
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' }).end('blocked')
      return true
    },
    headers: (url) => {
      const csp = url.searchParams.get('csp')
      return csp ? { 'Content-Security-Policy': csp } : undefined
    },
  })

/**
 * The local servers every suite uses, as Playwright fixtures: the Playwright suite below and the
 * WebKit suite (e2e/webkitgtk/webdriver.ts) both take them from here.
 */
export const serverFixtures = {
  /** The repository on 127.0.0.1, one per worker; tests load dist/ from it. */
  site: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use: (site: StaticServer) => Promise<void>) => {
      const site = await serveSite()
      await use(site)
      await site.close()
    },
    { scope: 'worker' as const },
  ] as [(args: object, use: (site: StaticServer) => Promise<void>) => Promise<void>, { scope: 'worker' }],
  /** msw's fake of Trustpilot on a loopback server of its own; the shop's endpoint points at it. */
  trustpilotApi: async (
    { shop }: { shop: { endpoint: string | undefined } },
    use: (api: TrustpilotApi) => Promise<void>,
  ) => {
    // No origin in the handlers' paths: the server resolves them against its own.
    const fake = fakeTrustpilot('')
    const server = await serveHandlers(fake.handlers)
    shop.endpoint = server.url
    await use(Object.assign(fake, { url: server.url }))
    await server.close()
  },
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
  standIn: async ({}, use: (standIn: StandIn) => Promise<void>) => {
    const standIn = await startStandIn()
    await use(standIn)
    await standIn.close()
  },
}

export const test = base.extend<{ trustpilotApi: TrustpilotApi; standIn: StandIn; shop: Shop }, { site: StaticServer }>(
  {
    ...serverFixtures,
    baseURL: async ({ site }, use) => use(site.url),
    shop: async ({ page }, use) => {
      // On every page, not only the harness (which loads it too): nothing logged before it runs.
      await page.context().addInitScript({ path: CONSOLE_CAPTURE })
      await use(new Shop(page))
    },
  },
)

export { expect } from '@playwright/test'
