/**
 * Pages without storage, as browsers make them, and a record of what a page reports that outlives it.
 *
 * - STORAGE_BLOCKS: the real browser settings that take localStorage away from a site, each on a
 *   browser launched for it (`withoutStorageFixture`): Chromium's "Don't allow sites to save data"
 *   (the site-data content setting, in the profile's Preferences), Firefox's "block all cookies"
 *   (network.cookie.cookieBehavior = 2) and its DOM storage switch (dom.storage.enabled = false). What
 *   the page's localStorage then does is each engine's own: it throws, or it is null.
 * - `startOutcomeReports`: a loopback server the page beacons each outcome to (`beaconOutcomesTo`), so
 *   what a page said as it went away (on pagehide) is heard after it is gone, in every engine alike:
 *   WebDriver has no bindings, and a page's own record dies with it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, LaunchOptions, PlaywrightWorkerArgs, PlaywrightWorkerOptions } from '@playwright/test'
import type { StaticServer } from '../../test/support/static-server'
import { CONSOLE_CAPTURE, type Outcome, Shop } from './fixtures'

export interface StorageBlock {
  engine: 'chromium' | 'firefox'
  /** The setting, as a user meets it. */
  name: string
  /** What the page's first use of localStorage throws then (the name the plugin's warning gives). */
  errorName: string
  /** Firefox: the preferences that make it. */
  prefs?: Record<string, string | number | boolean>
}

export const STORAGE_BLOCKS: StorageBlock[] = [
  {
    engine: 'chromium',
    name: "site data blocked (Settings › Site data: Don't allow sites to save data)",
    errorName: 'SecurityError',
  },
  {
    engine: 'firefox',
    name: 'cookies and site data blocked (network.cookie.cookieBehavior = 2)',
    errorName: 'SecurityError',
    prefs: { 'network.cookie.cookieBehavior': 2 },
  },
  {
    engine: 'firefox',
    name: 'DOM storage off (dom.storage.enabled = false): localStorage is null',
    errorName: 'TypeError',
    prefs: { 'dom.storage.enabled': false },
  },
]

export const storageBlocksFor = (browserName: string) => STORAGE_BLOCKS.filter((b) => b.engine === browserName)

/**
 * Chromium's content setting for site data ("cookies": 2 blocks cookies and every storage API), as
 * the browser writes it to a profile: localStorage then throws SecurityError on every site.
 */
const CHROMIUM_SITE_DATA_BLOCKED = { profile: { default_content_setting_values: { cookies: 2 } } }

/** A browser of the test's engine, launched with `block`; `close` ends it (and its profile). */
async function launchWithoutStorage(
  playwright: PlaywrightWorkerArgs['playwright'],
  launchOptions: LaunchOptions,
  block: StorageBlock,
  baseURL: string,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (block.engine === 'chromium') {
    const profile = await mkdtemp(join(tmpdir(), 'no-storage-'))
    await mkdir(join(profile, 'Default'))
    await writeFile(join(profile, 'Default', 'Preferences'), JSON.stringify(CHROMIUM_SITE_DATA_BLOCKED))
    const context = await playwright.chromium.launchPersistentContext(profile, { ...launchOptions, baseURL })
    return {
      context,
      close: async () => {
        await context.close()
        await rm(profile, { recursive: true, force: true })
      },
    }
  }
  const browser = await playwright.firefox.launch({
    ...launchOptions,
    firefoxUserPrefs: { ...launchOptions.firefoxUserPrefs, ...block.prefs },
  })
  const context = await browser.newContext({ baseURL })
  return { context, close: () => browser.close() }
}

/** The shop's harness page in a browser launched with `block` (the engine's first when absent). */
export type WithoutStorage = (options?: { block?: StorageBlock; reportTo?: string }) => Promise<Shop>

/**
 * `withoutStorage(options)`: a Shop (e2e/support/fixtures.ts) on a browser of the test's engine
 * launched with a storage block, capturing its console as `shop` does; with `reportTo`, every page
 * beacons each outcome there. Each browser it launched is closed after the test.
 */
export const withoutStorageFixture = async (
  {
    playwright,
    browserName,
    launchOptions,
    channel,
    site,
  }: Pick<PlaywrightWorkerArgs, 'playwright'> &
    Pick<PlaywrightWorkerOptions, 'browserName' | 'launchOptions' | 'channel'> & { site: StaticServer },
  use: (open: WithoutStorage) => Promise<void>,
) => {
  const launched: Array<() => Promise<void>> = []
  await use(async ({ block = storageBlocksFor(browserName)[0], reportTo } = {}) => {
    if (!block || block.engine !== browserName) throw new Error(`no storage block for ${browserName}`)
    const { context, close } = await launchWithoutStorage(playwright, { ...launchOptions, channel }, block, site.url)
    launched.push(close)
    await context.addInitScript({ path: CONSOLE_CAPTURE })
    if (reportTo) await context.addInitScript({ content: beaconOutcomesTo(reportTo) })
    return new Shop(context.pages()[0] ?? (await context.newPage()))
  })
  for (const close of launched) await close()
}

/** Outcomes a page beaconed, in the order they arrived. */
export interface OutcomeReports {
  url: string
  outcomes: Outcome[]
  close(): Promise<void>
}

export async function startOutcomeReports(): Promise<OutcomeReports> {
  const outcomes: Outcome[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      if (req.method === 'POST') {
        try {
          outcomes.push(JSON.parse(body))
        } catch {}
      }
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/outcome`,
    outcomes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The reports server as a Playwright fixture, one per test, for either suite. */
export const outcomeReportsFixture = async (
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
  {},
  use: (reports: OutcomeReports) => Promise<void>,
) => {
  const reports = await startOutcomeReports()
  await use(reports)
  await reports.close()
}

/**
 * A script for the harness page (e2e/pages/harness.js calls window.beforeLoad before analytics-next
 * loads): every outcome is beaconed to `url` the moment it is reported. A beacon (text/plain, no
 * preflight) outlives the page that sends it, one sent on pagehide included.
 */
export const beaconOutcomesTo = (url: string) =>
  `window.beforeLoad = (browser) => browser.on('trustpilot', (o) => navigator.sendBeacon(${JSON.stringify(url)},
    JSON.stringify({ status: o.status, referenceId: o.referenceId, reason: o.reason, error: o.error && o.error.name })))`
