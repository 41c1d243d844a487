/**
 * A Next.js App Router shop built from the packed package (e2e/support/next-shop.ts): its client
 * component creates `trustpilot({ apiKey, endpoint: '/trustpilot' })` at module scope, which Next
 * also runs on the server, where `next build` prerenders the page and `next start` serves it. The
 * build succeeds with the page static, the server serves it with no error, and in the browser the
 * page hydrates and an Order Completed goes through the shop's relay to Trustpilot's stand-in: sent,
 * one invitation created.
 */
import type { ConsoleMessage } from '@playwright/test'
import { API_KEY, SEED_PROPERTIES } from '../test/support/fixtures'
import { type StandIn, startStandIn } from '../test/support/stand-in'
import { expect, type Outcome, test } from './support/fixtures'
import { builtNextShop, type NextShop, PAGE_HEADING, startNextShop } from './support/next-shop'

/** `next build` (1-2 minutes on a 2-core machine, or the wait for another worker's) and `next start`. */
const SETUP_TIMEOUT_MS = 300_000

// In order, in one worker: one build, one server for both tests.
test.describe.configure({ mode: 'default' })

let built: NextShop
let standIn: StandIn
let shop: Awaited<ReturnType<typeof startNextShop>>
// biome-ignore lint/correctness/noEmptyPattern: Playwright reads a hook's fixtures from this destructuring
test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(SETUP_TIMEOUT_MS)
  built = await builtNextShop()
  standIn = await startStandIn()
  shop = await startNextShop(built, standIn.url)
})
test.afterAll(async () => {
  await shop?.stop()
  await standIn?.close()
})

test('`next build` succeeds, with no warning, and prerenders the page statically', () => {
  // Under CI=true, Next.js says it found no build cache (.next/cache): every build here is a first
  // build. That line is about the machine, not the page; any other warning or error fails.
  const output = built.buildOutput.replace(/^.*No build cache found.*$/m, '')
  expect(output).not.toMatch(/error|warn|⚠/i)
  expect(built.prerendered).toContain('/')
})

test('`next start` serves it (200); it hydrates, and an Order Completed through the relay is sent: one invitation', async ({
  page,
}) => {
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error' || message.type() === 'warning')
      problems.push(`${message.type()}: ${message.text()}`)
  })

  const response = await page.goto(shop.url)
  expect(response?.status()).toBe(200)
  // Rendered by the server: the module that made the plugin ran there.
  expect(await response?.text()).toContain(PAGE_HEADING)
  // Hydrated: the effect ran and analytics-next loaded with the plugin.
  await expect(page.locator('#analytics')).toHaveText('analytics loaded')

  await page.evaluate((properties) => (window as any).analytics.track('Order Completed', properties), SEED_PROPERTIES)
  await page.waitForFunction(() => (window as any).outcomes.some((o: Outcome) => o.status !== 'retrying'))
  expect(await page.evaluate(() => (window as any).outcomes)).toEqual([
    { status: 'sent', referenceId: SEED_PROPERTIES.order_id, reason: 'accepted by Trustpilot' },
  ])
  // Through the relay on the shop's own origin, to the stand-in: one invitation, its products second.
  expect(standIn.requests.map((r) => [r.apiKey, r.status, r.origin, r.fromBrowser])).toEqual([
    [API_KEY, 202, shop.url, false],
    [API_KEY, 201, shop.url, false],
  ])
  expect(Object.fromEntries(standIn.created)).toEqual({ [SEED_PROPERTIES.order_id]: 1 })

  expect(problems).toEqual([])
  // Nothing went wrong on the server, rendering the page or relaying the order.
  expect(shop.output()).not.toMatch(/error|warn|⨯/i)
})
