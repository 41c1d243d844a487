/**
 * Fixtures for the WebKit suite: WebKitGTK's MiniBrowser driven over W3C WebDriver with
 * selenium-webdriver, since Playwright can't drive a stock WebKit. Playwright Test still runs and
 * reports it, as its `webkitgtk` project, beside the Chromium and Firefox suites.
 *
 * - `webkitDriver` (per worker): a display (Xvfb, started here when none is set) and WebKitWebDriver.
 * - `driver` (per test): a fresh MiniBrowser session, so storage starts empty; `miniBrowserArgs`
 *   (test.use) starts it with MiniBrowser options, e.g. `--enable-html5-local-storage=false`.
 * - `shop`: the harness page, driven through the session as `e2e/support/fixtures.ts` drives it;
 *   the harness captures the console and CSP violations itself (e2e/pages/console-capture.js).
 * - `site`, `trustpilotApi`, `standIn`: the same local servers the Playwright suite uses.
 */
import { test as base } from '@playwright/test'
import type { WebDriver } from 'selenium-webdriver'
import type { StandIn } from '../../test/support/stand-in'
import type { StaticServer } from '../../test/support/static-server'
import { type Outcome, type StartOptions, serverFixtures, type TrustpilotApi, withEndpoint } from '../support/fixtures'
import { newWebKitSession, startWebKitDriver, type WebKitDriver, waitUntil } from '../support/webkitgtk'

/** The harness page in MiniBrowser: the same calls as the Playwright suite's Shop. */
export class WebDriverShop {
  endpoint: string | undefined

  constructor(
    readonly driver: WebDriver,
    readonly baseURL: string,
  ) {}

  withEndpoint<T extends Record<string, unknown> | undefined>(settings: T): T {
    return withEndpoint(settings, this.endpoint)
  }

  async open(options: StartOptions, path = '/e2e/pages/harness.html') {
    await this.driver.get(this.baseURL + path)
    await this.start(options)
  }

  /** Starts analytics-next and the plugin on the harness page already loaded. */
  async start(options: StartOptions) {
    const started = await this.driver.executeAsyncScript<string>(
      `const done = arguments[arguments.length - 1]
      window.start(arguments[0]).then(() => done('ok'), (e) => done(String(e)))`,
      { ...options, settings: this.withEndpoint(options.settings) },
    )
    if (started !== 'ok') throw new Error(`start() failed: ${started}`)
  }

  /**
   * Puts `value` at `key` in this origin's localStorage before the plugin loads: from another page
   * of the shop, since WebDriver can't run a script ahead of the harness's own.
   */
  async seedStorage(key: string, value: string) {
    await this.driver.get(`${this.baseURL}/e2e/pages/elsewhere.html`)
    await this.driver.executeScript('localStorage.setItem(arguments[0], arguments[1])', key, value)
  }

  /** Calls analytics.track in the page and resolves when analytics-next resolved it. */
  async track(event: string, properties: Record<string, unknown>, options?: Record<string, unknown>) {
    const result = await this.driver.executeAsyncScript<string>(
      `const done = arguments[arguments.length - 1]
      window.analytics.track(arguments[0], arguments[1], arguments[2]).then(() => done('ok'), (e) => done(String(e)))`,
      event,
      properties,
      options ?? {},
    )
    if (result !== 'ok') throw new Error(`track failed: ${result}`)
  }

  /**
   * The classic checkout redirect: tracks the order and, the moment `track` resolves, sends the
   * page to `url`. Resolves once the browser is there.
   */
  async trackThenLeave(properties: Record<string, unknown>, url: string) {
    await this.driver.executeScript(
      `window.analytics.track('Order Completed', arguments[0]).then(() => { location.href = arguments[1] })`,
      properties,
      url,
    )
    await waitUntil(async () => (await this.driver.getCurrentUrl()) === url, 10_000, `no navigation to ${url}`)
  }

  /** Calls `analytics[method](...args)` in the page and resolves when analytics-next resolved it. */
  async call(method: string, ...args: unknown[]) {
    const result = await this.driver.executeAsyncScript<string>(
      `const done = arguments[arguments.length - 1]
      window.analytics[arguments[0]](...arguments[1]).then(() => done('ok'), (e) => done(String(e)))`,
      method,
      args,
    )
    if (result !== 'ok') throw new Error(`${method} failed: ${result}`)
  }

  /** Everything the page logged, each argument serialized whole (e2e/pages/console-capture.js). */
  consoleLines(): Promise<string[]> {
    return this.driver.executeScript<string[]>('return window.consoleCapture.lines')
  }

  /** The page's Content Security Policy violations, as `<directive> <blocked URI>`. */
  violations(): Promise<string[]> {
    return this.driver.executeScript<string[]>('return window.consoleCapture.violations')
  }

  /** localStorage's keys of this package, as the page sees them. */
  storedKeys(): Promise<string[]> {
    return this.driver.executeScript<string[]>(
      "return Object.keys(localStorage).filter((k) => k.startsWith('analytics-plugin-trustpilot'))",
    )
  }

  outcomes(): Promise<Outcome[]> {
    return this.driver.executeScript<Outcome[]>('return window.outcomes')
  }

  async waitForOutcome(status: string, referenceId?: string, ms = 10_000) {
    const match = (o: Outcome) => o.status === status && (!referenceId || o.referenceId === referenceId)
    await waitUntil(async () => (await this.outcomes()).some(match), ms, `no "${status}" outcome`)
    return (await this.outcomes()).find(match)
  }
}

export const test = base.extend<
  {
    /** MiniBrowser's command-line arguments beside `--automation` (test.use), e.g. a WebKitSettings property. */
    miniBrowserArgs: string[]
    driver: WebDriver
    shop: WebDriverShop
    trustpilotApi: TrustpilotApi
    standIn: StandIn
  },
  { site: StaticServer; webkitDriver: WebKitDriver }
>({
  miniBrowserArgs: [[], { option: true }],
  webkitDriver: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const driver = await startWebKitDriver()
      await use(driver)
      await driver.close()
    },
    { scope: 'worker' },
  ],
  ...serverFixtures,
  driver: async ({ webkitDriver, miniBrowserArgs }, use) => {
    const driver = await newWebKitSession(webkitDriver, miniBrowserArgs)
    await use(driver)
    await driver.quit()
  },
  shop: async ({ driver, site }, use) => use(new WebDriverShop(driver, site.url)),
})

export { expect } from '@playwright/test'
