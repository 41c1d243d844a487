/**
 * Pages with the strictest script policies, on the built files: Trusted Types, a nonce-based strict
 * CSP, and Integrity-Policy (issue 29). The pages come from e2e/support/strict-pages.ts, which the
 * WebKit suite's mirror of these tests shares. What a page saw is read from the page: its CSP
 * violations (recorded from its first script on, e2e/pages/console-capture.js), its uncaught errors,
 * its outcomes.
 */
import type { Page } from '@playwright/test'
import { API_KEY, SEED_PROPERTIES } from '../test/support/fixtures'
import type { StandIn } from '../test/support/stand-in'
import type { StaticServer } from '../test/support/static-server'
import { expect, type Outcome, remotePluginCdnSettings, type Shop, type StartOptions, test } from './support/fixtures'
import { standInSettings } from './support/orders'
import {
  expectTrustedTypesRefused,
  NONCE,
  nonceCsp,
  type StrictPage,
  serveCdn,
  serveStrictPages,
} from './support/strict-pages'

const settingsFor = standInSettings({ apiKey: API_KEY, timeoutMs: 2_000 })
const script = { transport: 'script' }

/** The suite's fixtures, and the two servers of its pages: the shop's origin and a CDN on another. */
const strictTest = test.extend<{ uncaught: () => Promise<string[]> }, { strict: StaticServer; cdn: StaticServer }>({
  strict: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const server = await serveStrictPages()
      await use(server)
      await server.close()
    },
    { scope: 'worker' },
  ],
  cdn: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const server = await serveCdn()
      await use(server)
      await server.close()
    },
    { scope: 'worker' },
  ],
  /**
   * The page's uncaught errors and unhandled rejections, from its first script on, as the page saw
   * them (Firefox over BiDi reports its own CSP messages as page errors too: not the page's).
   */
  uncaught: async ({ page }, use) => {
    await page.addInitScript(() => {
      const uncaught: string[] = []
      ;(window as any).uncaught = uncaught
      addEventListener('error', (event) => uncaught.push(`${event.error?.name}: ${event.message}`))
      addEventListener('unhandledrejection', (event) => uncaught.push(`unhandled: ${event.reason}`))
    })
    await use(() => page.evaluate(() => (window as any).uncaught as string[]))
  },
})

/** The harness page on the strict server, with `query` (e.g. `csp=…&nonce=…`). */
const harness = (strict: StaticServer, query: Record<string, string>) =>
  `${strict.url}/e2e/pages/harness.html?${new URLSearchParams(query)}`

const violations = (page: Page) => page.evaluate(() => (window as any).consoleCapture.violations as string[])
/** What the page fetched of Trustpilot's script. */
const tpScriptFetches = (page: Page) =>
  page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((entry) => entry.name)
      .filter((name) => name.endsWith('/tp.min.js')),
  )

const strictPage = (page: Page): StrictPage => ({
  violations: () => violations(page),
  tpScriptFetches: () => tpScriptFetches(page),
})

/** Opens `url`, tracks the seed order and waits for it to be sent; the stand-in created it once. */
async function expectSent(shop: Shop, standIn: StandIn, url: string, options: StartOptions) {
  await shop.open(options, url)
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent', SEED_PROPERTIES.order_id)
  await expect.poll(() => standIn.created.get(SEED_PROPERTIES.order_id)).toBe(1)
}

/** Tracks the seed order and waits for its final outcome: every outcome it had, in order. */
async function outcomesUntilFailed(shop: Shop): Promise<Outcome[]> {
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('failed', SEED_PROPERTIES.order_id)
  return shop.outcomes()
}

strictTest.describe("Trusted Types (require-trusted-types-for 'script')", () => {
  strictTest(
    "transport 'api': sent with zero violations, and no policy made",
    async ({ shop, page, standIn, strict, uncaught }) => {
      // trusted-types 'none': a policy made by anyone would be a violation.
      const csp = "require-trusted-types-for 'script'; trusted-types 'none'"
      await expectSent(shop, standIn, harness(strict, { csp }), { via: 'module', settings: settingsFor(standIn) })
      expect(await violations(page)).toEqual([])
      expect(await uncaught()).toEqual([])
    },
  )

  strictTest(
    "transport 'script': tp.min.js comes through the policy trustpilot (CSP trusted-types trustpilot), zero violations",
    async ({ shop, page, standIn, strict, uncaught }) => {
      const csp = "require-trusted-types-for 'script'; trusted-types trustpilot"
      await expectSent(shop, standIn, harness(strict, { csp }), {
        via: 'module',
        settings: settingsFor(standIn, script),
      })
      expect(await tpScriptFetches(page)).toEqual([`${standIn.url}/tp.min.js`])
      expect(await page.evaluate(() => (window as any).tpCalls?.length)).toBe(3)
      expect(await violations(page)).toEqual([])
      expect(await uncaught()).toEqual([])
    },
  )

  strictTest(
    "transport 'script' on a page that refuses the policy: the order ends within maxAttempts, its reason naming the policy; no uncaught error, no violation loop",
    async ({ shop, page, standIn, strict, uncaught }) => {
      const csp = "require-trusted-types-for 'script'; trusted-types 'none'"
      await shop.open(
        { via: 'module', settings: settingsFor(standIn, { ...script, maxAttempts: 2 }) },
        harness(strict, { csp }),
      )
      await expectTrustedTypesRefused(strictPage(page), await outcomesUntilFailed(shop), standIn)
      expect(await uncaught()).toEqual([])
    },
  )
  strictTest(
    "the remote plugin: analytics-next's loader sets its <script src> from a string, which the page refuses",
    async ({ shop, page, standIn, strict }) => {
      // What docs/browsers.md says of this route: analytics-next's code, not the plugin's.
      const csp = "require-trusted-types-for 'script'; trusted-types trustpilot"
      await shop.open(
        { via: 'none', cdnSettings: remotePluginCdnSettings(strict.url, settingsFor(standIn)) },
        harness(strict, { csp }),
      )
      await expect.poll(() => violations(page)).toEqual(['require-trusted-types-for trusted-types-sink'])
      expect(await page.evaluate(() => typeof (window as any).trustpilotDestination)).toBe('undefined')
    },
  )
})

strictTest.describe("nonce-based strict CSP (script-src 'nonce-…' 'strict-dynamic')", () => {
  /** The strict CSP, with the endpoint for requests and Trustpilot's simplicity host for its iframe. */
  const policy = (standIn: StandIn, frame = true) =>
    `default-src 'self'; ${nonceCsp()}; connect-src 'self' ${standIn.url}${frame ? `; frame-src ${standIn.simplicityUrl}` : ''}`

  /** Each way a shop loads the plugin, on the page at `strict`, its files from `cdn` where it says. */
  const routes = {
    'module import': () => ({ via: 'module' }),
    'module from a CDN on another origin': (cdn: StaticServer) => ({ via: 'module', base: cdn.url }),
    'classic script': () => ({ via: 'global' }),
    'remote plugin from a CDN on another origin': (cdn: StaticServer, settings: Record<string, unknown>) => ({
      via: 'none',
      cdnSettings: remotePluginCdnSettings(cdn.url, settings),
    }),
  } satisfies Record<string, (cdn: StaticServer, settings: Record<string, unknown>) => StartOptions>

  for (const [route, start] of Object.entries(routes)) {
    for (const transport of ['api', 'script'] as const) {
      strictTest(
        `${route}, transport '${transport}': sent with zero violations`,
        async ({ shop, page, standIn, strict, cdn, uncaught }) => {
          const settings = settingsFor(standIn, { transport })
          const options: StartOptions = { settings, ...start(cdn, settings) }
          await expectSent(shop, standIn, harness(strict, { csp: policy(standIn), nonce: NONCE }), options)
          expect(await tpScriptFetches(page)).toEqual(transport === 'script' ? [`${standIn.url}/tp.min.js`] : [])
          expect(await violations(page)).toEqual([])
          expect(await uncaught()).toEqual([])
        },
      )
    }
  }

  strictTest(
    "with Trusted Types too (trusted-types trustpilot): transport 'script' sent with zero violations",
    async ({ shop, page, standIn, strict, uncaught }) => {
      const csp = `${policy(standIn)}; require-trusted-types-for 'script'; trusted-types trustpilot`
      await expectSent(shop, standIn, harness(strict, { csp, nonce: NONCE }), {
        via: 'module',
        settings: settingsFor(standIn, script),
      })
      expect(await violations(page)).toEqual([])
      expect(await uncaught()).toEqual([])
    },
  )

  strictTest(
    "without frame-src for Trustpilot's simplicity host: its iframe is refused, and the script never answers",
    async ({ shop, page, standIn, strict }) => {
      // What the README's frame-src is for, seen to matter under this policy too.
      await shop.open(
        { via: 'module', settings: settingsFor(standIn, { ...script, maxAttempts: 1, timeoutMs: 1_000 }) },
        harness(strict, { csp: policy(standIn, false), nonce: NONCE }),
      )
      const outcomes = await outcomesUntilFailed(shop)
      expect(outcomes.at(-1)?.reason).toBe(
        "gave up after 1 attempts; last error: no answer from Trustpilot's script within 1000 ms",
      )
      // Chromium reports the frame's origin, Firefox its URL.
      const reported = await violations(page)
      expect(reported.map((v) => v.replace(`${standIn.simplicityUrl}/embed`, standIn.simplicityUrl))).toEqual([
        `frame-src ${standIn.simplicityUrl}`,
      ])
    },
  )
})

strictTest.describe('Integrity-Policy: blocked-destinations=(script), every file of the page pinned', () => {
  const pinned = (strict: StaticServer) =>
    harness(strict, { pinned: '', 'integrity-policy': 'blocked-destinations=(script)' })

  strictTest("transport 'api' (the default): sent", async ({ shop, page, standIn, strict, uncaught }) => {
    await expectSent(shop, standIn, pinned(strict), { via: 'module', settings: settingsFor(standIn) })
    expect(await tpScriptFetches(page)).toEqual([])
    expect(await uncaught()).toEqual([])
  })

  strictTest(
    "transport 'script': tp.min.js, which no hash can pin, is blocked; the order ends within maxAttempts, its reason naming the integrity policy",
    async ({ shop, page, standIn, strict, uncaught }) => {
      await shop.open({ via: 'module', settings: settingsFor(standIn, { ...script, maxAttempts: 2 }) }, pinned(strict))
      const outcomes = await outcomesUntilFailed(shop)
      const blocked = `Trustpilot's script ${standIn.url}/tp.min.js failed to load (blocked? by the page's Integrity-Policy or CSP, or a content blocker)`
      expect(outcomes.map((o) => [o.status, o.reason.replace(/next in \d+ s/, 'next in <s> s')])).toEqual([
        ['retrying', `${blocked}; attempt 1 failed, next in <s> s`],
        ['failed', `gave up after 2 attempts; last error: ${blocked}`],
      ])
      expect(await page.evaluate(() => (window as any).tpCalls)).toBeUndefined()
      expect(standIn.requests).toEqual([])
      expect(await uncaught()).toEqual([])
    },
  )
})
