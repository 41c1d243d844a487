/** Strict Content Security Policy and privacy of the console, against the built files. */
import { readFileSync } from 'node:fs'
import type { Page } from '@playwright/test'
import { SIMPLICITY_ORIGIN, simplicityEmbedPage, TP_SCRIPT_URL, tpStandInScript } from '../scripts/stand-in'
import { API_KEY, SEED_PROPERTIES } from '../test/fixtures'
import { expect, test } from './support/fixtures'

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

const strict = (connect: string, script = '') =>
  `default-src 'self'; script-src 'self'${script}; connect-src 'self' ${connect}`

test.describe('strict CSP: no unsafe-inline, no unsafe-eval', () => {
  test("transport 'api': an invitation is sent with zero violations", async ({ shop, page, standIn }) => {
    const violations = await recordViolations(page)
    await shop.open(
      { via: 'module', settings: { apiKey: API_KEY, endpoint: standIn.url } },
      `/e2e/pages/harness.html?csp=${encodeURIComponent(strict(standIn.url))}`,
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
      `/e2e/pages/harness.html?csp=${encodeURIComponent(strict('https://invitejs.trustpilot.com'))}`,
    )
    await shop.track('Order Completed', SEED_PROPERTIES)
    const failed = await shop.waitForOutcome('failed')
    expect(failed?.reason).toMatch(/network error/)
    expect(await violations()).toEqual([`connect-src ${standIn.url}/api/${API_KEY}/invitation`])
    expect(standIn.requests).toEqual([])
  })
})

test.describe('privacy: the console', () => {
  const EMAIL = /[^\s@"'<>]+@[^\s@"'<>]+\.[a-z]{2,}/i

  /** A full order flow with every kind of outcome, collecting all console output. */
  async function flow(shop: import('./support/fixtures').Shop, page: Page, debug: boolean) {
    const lines: string[] = []
    page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`))
    await page.addInitScript(() => localStorage.setItem('analytics-plugin-trustpilot:privacy-key:junk', '{oops'))
    await shop.open({ via: 'module', settings: { apiKey: 'privacy-key', debug } })
    await shop.call('identify', 'user-1', { email: 'known.buyer@example.com', name: 'Known Buyer' })
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'ok', email: 'buyer@example.com' })
    await shop.track('Order Completed', { order_id: 'bad-email', email: 'buyer@@example.com' })
    await shop.track('Order Completed', { order_id: 'ok', email: 'buyer@example.com' })
    await shop.track('Order Completed', { email: 'no.order@example.com' })
    await shop.waitForOutcome('sent', 'ok')
    return lines
  }

  test('debug off: no email address reaches the console', async ({ shop, page, trustpilotApi }) => {
    const lines = await flow(shop, page, false)
    expect(trustpilotApi.requests.length).toBe(2)
    expect(lines.join('\n')).toMatch(/stored record .* is not valid/) // the console was listened to
    expect(lines.filter((line) => EMAIL.test(line))).toEqual([])
  })

  test('debug on: reasons and outcomes are on the console', async ({ shop, page, trustpilotApi }) => {
    const lines = (await flow(shop, page, true)).join('\n')
    expect(trustpilotApi.requests.length).toBe(2)
    expect(lines).toMatch(/Trustpilot skipped bad-email: properties\.email is not an email address/)
    expect(lines).toMatch(/Trustpilot skipped ok: already invited or pending/)
    expect(lines).toMatch(/Trustpilot skipped: properties\.order_id is missing/)
    expect(lines).toMatch(/Trustpilot sent ok: accepted by Trustpilot/)
  })
})
