/**
 * Strict Content Security Policy and privacy of the console, against the built files. The console
 * check (e2e/support/privacy.ts) runs in the WebKit suite too.
 */
import { readFileSync } from 'node:fs'
import type { Page } from '@playwright/test'
import { API_KEY, SEED_PROPERTIES } from '../test/support/fixtures'
import { SIMPLICITY_ORIGIN, simplicityEmbedPage, TP_SCRIPT_URL, tpStandInScript } from '../test/support/stand-in'
import { expect, type Shop, strictCsp, test } from './support/fixtures'
import { type ConsoleShop, consoleOfAnOrderFlow, expectNoEmail, expectReasonsAndInvitations } from './support/privacy'

/** Records every securitypolicyviolation in the page, from before any script of the page runs. */
async function recordViolations(page: Page) {
  await page.addInitScript(() => {
    ;(window as any).violations = []
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).violations.push(`${e.violatedDirective} ${e.blockedURI}`),
    )
  })
  return () => page.evaluate(() => (window as any).violations as string[])
}

test.describe('strict CSP: no unsafe-inline, no unsafe-eval', () => {
  test("transport 'api': an invitation is sent with zero violations", async ({ shop, page, standIn }) => {
    const violations = await recordViolations(page)
    await shop.open(
      { via: 'module', settings: { apiKey: API_KEY, endpoint: standIn.url } },
      `/e2e/pages/harness.html?csp=${encodeURIComponent(strictCsp(standIn.url))}`,
    )
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    expect(standIn.created.get(SEED_PROPERTIES.order_id)).toBe(1)
    expect(await violations()).toEqual([])
  })

  test("transport 'script': under exactly the README's policy, tp.min.js and its iframe deliver with zero violations", async ({
    shop,
    page,
  }) => {
    // The README's directives for 'script', word for word; the page adds only 'self' for its own files.
    const readme = readFileSync('README.md', 'utf8')
    const policy =
      'script-src https://invitejs.trustpilot.com; connect-src https://invitejs.trustpilot.com; frame-src https://simplicity.trustpilot.com'
    expect(readme).toContain(policy)
    const csp = `default-src 'self'; ${policy.replace('script-src', "script-src 'self'").replace('connect-src', "connect-src 'self'")}`
    const violations = await recordViolations(page)
    // Trustpilot's hosts, played in the browser: its script, its simplicity page, its invitation API.
    await page.route(TP_SCRIPT_URL, async (route) =>
      route.fulfill({ contentType: 'text/javascript', body: await tpStandInScript() }),
    )
    await page.route(`${SIMPLICITY_ORIGIN}/embed`, async (route) =>
      route.fulfill({ contentType: 'text/html', body: await simplicityEmbedPage() }),
    )
    const posts: string[] = []
    await page.route('https://invitejs.trustpilot.com/api/**', (route) => {
      const request = route.request()
      const headers = {
        'Access-Control-Allow-Origin': request.headers().origin ?? '*',
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Content-Type',
      }
      if (request.method() === 'OPTIONS') return route.fulfill({ status: 204, headers })
      posts.push(request.url())
      // Trustpilot's protocol: 202 to the first request, 201 to the one with products.
      return route.fulfill({ status: posts.length === 1 ? 202 : 201, headers })
    })
    await shop.open(
      { via: 'module', settings: { apiKey: API_KEY, transport: 'script' } },
      `/e2e/pages/harness.html?csp=${encodeURIComponent(csp)}`,
    )
    await shop.track('Order Completed', SEED_PROPERTIES)
    await shop.waitForOutcome('sent')
    await expect.poll(() => posts.length).toBe(2)
    expect(posts).toEqual(Array(2).fill(`https://invitejs.trustpilot.com/api/${API_KEY}/invitation`))
    expect(await violations()).toEqual([])
  })

  test('a policy that leaves the endpoint out is seen as a violation and reported', async ({ shop, page, standIn }) => {
    const violations = await recordViolations(page)
    await shop.open(
      { via: 'module', settings: { apiKey: API_KEY, endpoint: standIn.url, maxAttempts: 1 } },
      `/e2e/pages/harness.html?csp=${encodeURIComponent(strictCsp('https://invitejs.trustpilot.com'))}`,
    )
    await shop.track('Order Completed', SEED_PROPERTIES)
    const failed = await shop.waitForOutcome('failed')
    expect(failed?.reason).toMatch(/network error/)
    expect(await violations()).toEqual([`connect-src ${standIn.url}/api/${API_KEY}/invitation`])
    expect(standIn.requests).toEqual([])
  })
})

test.describe('privacy: the console', () => {
  /** The shop, able to seed storage ahead of the page's scripts. */
  const consoleShop = (shop: Shop, page: Page): ConsoleShop =>
    Object.assign(shop, {
      seedStorage: async (key: string, value: string) => {
        await page.addInitScript(([k, v]) => localStorage.setItem(k, v), [key, value] as const)
      },
    })

  test('debug off: no email address reaches the console', async ({ shop, page, trustpilotApi }) => {
    const lines = await consoleOfAnOrderFlow(consoleShop(shop, page), false)
    expect(trustpilotApi.requests.length).toBe(2)
    expectNoEmail(lines)
  })

  test('debug on: reasons and outcomes are on the console, invitations included', async ({
    shop,
    page,
    trustpilotApi,
  }) => {
    const lines = await consoleOfAnOrderFlow(consoleShop(shop, page), true)
    expect(trustpilotApi.requests.length).toBe(2)
    expectReasonsAndInvitations(lines)
  })
})
