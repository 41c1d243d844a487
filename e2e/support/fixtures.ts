/**
 * Playwright fixtures shared by the browser tests:
 * - `site`: the repository served on 127.0.0.1 (one per worker); tests load dist/ from it.
 * - `trustpilotApi`: the msw fake of Trustpilot (test/handlers.ts, the same handlers the Node tests
 *   use), routed into the page with @msw/playwright.
 * - `standIn`: a real HTTP Trustpilot on 127.0.0.1, for what routing can't see (pagehide requests).
 * - `shop`: opens the harness page and drives analytics-next in it.
 */
import { defineNetworkFixture } from '@msw/playwright'
import { test as base, type Page } from '@playwright/test'
import { type StandIn, startStandIn } from '../../scripts/stand-in'
import { type StaticServer, startStaticServer } from '../../scripts/static-server'
import { type FakeTrustpilot, fakeTrustpilot } from '../../test/handlers'

export interface StartOptions {
  /** How the plugin is loaded: ES module import, classic <script>, or not at all (remote plugin). */
  via?: 'module' | 'global' | 'none'
  settings?: Record<string, unknown>
  cdnSettings?: Record<string, unknown>
  loadOptions?: Record<string, unknown>
}

export interface Outcome {
  status: string
  referenceId?: string
  reason: string
  error?: string
}

export class Shop {
  constructor(readonly page: Page) {}

  async open(options: StartOptions, path = '/e2e/pages/harness.html') {
    await this.page.goto(path)
    await this.page.evaluate((o) => (window as any).start(o), options)
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

export const test = base.extend<
  { trustpilotApi: FakeTrustpilot; standIn: StandIn; shop: Shop },
  { site: StaticServer }
>({
  site: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      // A page asked for with ?csp=<policy> is served under that Content-Security-Policy.
      const site = await startStaticServer('.', 0, {
        headers: (url) => {
          const csp = url.searchParams.get('csp')
          return csp ? { 'Content-Security-Policy': csp } : undefined
        },
      })
      await use(site)
      await site.close()
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ site }, use) => use(site.url),
  trustpilotApi: async ({ context }, use) => {
    const fake = fakeTrustpilot()
    const network = defineNetworkFixture({ context, handlers: fake.handlers, onUnhandledRequest: 'bypass' })
    await network.enable()
    await use(fake)
    await network.disable()
  },
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
  standIn: async ({}, use) => {
    const standIn = await startStandIn()
    await use(standIn)
    await standIn.close()
  },
  shop: async ({ page }, use) => use(new Shop(page)),
})

export { expect } from '@playwright/test'
