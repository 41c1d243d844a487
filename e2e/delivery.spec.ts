/**
 * Delivery guarantees against a real HTTP Trustpilot stand-in on 127.0.0.1: requests sent while a
 * page goes away use keepalive, which Playwright routing and msw can't see.
 */

import { expectBackOnlineSendsAtOnce, expectRetryAfterHonoured, orderWhileDown } from './support/delivery-flows'
import { expect, Shop, test } from './support/fixtures'
import { createdCount, expectCreatedOnce, order, requestsFor, standInSettings } from './support/orders'

const settingsFor = standInSettings({ apiKey: 'delivery-key', timeoutMs: 1_000 })

test('requests carry credentials (cookies of the Trustpilot origin)', async ({ shop, standIn, context }) => {
  await context.addCookies([{ name: 'tp_session', value: 'abc', domain: '127.0.0.1', path: '/' }])
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('cookie'))
  await expectCreatedOnce(standIn, 'cookie')
  const cookies = requestsFor(standIn, 'cookie').map((r) => r.cookie ?? '')
  expect(cookies).toHaveLength(2)
  for (const cookie of cookies) expect(cookie).toContain('tp_session=abc')
})

test('5xx twice, then success: delivered once', async ({ shop, standIn }) => {
  standIn.faults.push(500, 503)
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('flaky'))
  await expectCreatedOnce(standIn, 'flaky')
  expect(requestsFor(standIn, 'flaky').map((r) => r.status)).toEqual([500, 503, 202, 201])
  const statuses = (await shop.outcomes()).map((o) => o.status)
  expect(statuses).toEqual(['retrying', 'retrying', 'sent'])
})

test('a dropped connection and a hang are retried', async ({ shop, standIn }) => {
  standIn.faults.push('reset', 'hang')
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('faulty'))
  await expectCreatedOnce(standIn, 'faulty')
  const reasons = (await shop.outcomes()).filter((o) => o.status === 'retrying').map((o) => o.reason)
  expect(reasons[0]).toMatch(/network error/)
  expect(reasons[1]).toMatch(/no answer from Trustpilot within 1000 ms/)
})

test('429 with Retry-After waits as told', async ({ shop, standIn }) => {
  await expectRetryAfterHonoured(shop, standIn, settingsFor(standIn))
})

test('back online: a pending invitation goes at once, not after its backoff', async ({ shop, standIn, context }) => {
  await expectBackOnlineSendsAtOnce(shop, standIn, settingsFor(standIn), async () => {
    await context.setOffline(true)
    await context.setOffline(false)
  })
})

test('a body too large for keepalive (over 64 KiB) goes as a normal request at once', async ({ shop, standIn }) => {
  await shop.open({ settings: settingsFor(standIn) })
  const products = Array.from({ length: 100 }, (_, i) => ({ sku: `big-${i}`, name: 'x'.repeat(2_000) }))
  await shop.track('Order Completed', { ...order('big'), products })
  await expectCreatedOnce(standIn, 'big')
  expect(JSON.stringify(requestsFor(standIn, 'big')[1]?.body).length).toBeGreaterThan(64 * 1024)
  // Chromium refuses a keepalive request past its budget: without the fallback this would retry.
  expect((await shop.outcomes()).map((o) => o.status)).toEqual(['sent'])
})

test('Trustpilot down when the order is tracked; a later page load delivers it', async ({ shop, standIn, page }) => {
  await orderWhileDown(shop, standIn, settingsFor(standIn), 'offline')
  await page.goto('about:blank')
  await standIn.up()
  expect(standIn.requests).toHaveLength(0)
  await shop.open({ settings: settingsFor(standIn) })
  await expectCreatedOnce(standIn, 'offline', page)
  expect((await shop.outcomes()).map((o) => o.status)).toContain('sent')
})

for (const flow of [202, 201] as const) {
  test(`the page navigates away right after track resolves (${flow} flow): the invitation leaves, and the next page finishes it within 5 s`, async ({
    shop,
    standIn,
    page,
  }) => {
    const id = `leaving-${flow}`
    // Trustpilot answers after the page is gone, so the page never hears it.
    standIn.latencyMs = 300
    if (flow === 201) standIn.faults.push(201)
    // The default timeoutMs: a lease that held until it expired would keep other pages off for 32 s.
    const settings = settingsFor(standIn, { timeoutMs: 10_000 })
    await shop.open({ settings })
    await shop.trackThenLeave(order(id))
    // The first request went out with keepalive while the page was going away.
    await expect.poll(() => requestsFor(standIn, id).length).toBeGreaterThanOrEqual(1)
    expect(requestsFor(standIn, id)[0]?.status).toBe(flow)
    standIn.latencyMs = 0
    // The next page of the shop: the dead page's lease no longer holds, and the invitation is done
    // within 5 s of loading, not after the lease's 32 s.
    const loaded = Date.now()
    await shop.open({ settings })
    await expect.poll(() => createdCount(standIn, id), { timeout: 5_000 }).toBeGreaterThanOrEqual(1)
    test
      .info()
      .annotations.push({ type: 'created after the next page loaded', description: `${Date.now() - loaded} ms` })
    const pending = () =>
      page.evaluate(
        (key) =>
          Object.keys(localStorage).filter((k) => k === key && !('sent' in JSON.parse(localStorage.getItem(k)!))),
        `analytics-plugin-trustpilot:delivery-key:${id}`,
      )
    await expect.poll(pending).toEqual([])
  })
}

test('the same order tracked three times and the page reloaded: one invitation', async ({ shop, standIn, page }) => {
  await shop.open({ settings: settingsFor(standIn) })
  for (let i = 0; i < 3; i++) await shop.track('Order Completed', order('thrice'))
  await shop.waitForOutcome('sent', 'thrice')
  const skipped = (await shop.outcomes()).filter((o) => o.status === 'skipped')
  expect(skipped).toHaveLength(2)
  expect(skipped[0]?.reason).toMatch(/already invited or pending/)
  await page.reload()
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('thrice'))
  await shop.waitForOutcome('skipped', 'thrice')
  await expectCreatedOnce(standIn, 'thrice', page)
  expect(requestsFor(standIn, 'thrice')).toHaveLength(2)
})

test('two tabs opened on one pending outbox: one invitation', async ({ shop, standIn, context }) => {
  await orderWhileDown(shop, standIn, settingsFor(standIn), 'tabs')
  await shop.page.close()
  await standIn.up()
  const tabs = [new Shop(await context.newPage()), new Shop(await context.newPage())]
  await Promise.all(tabs.map((tab) => tab.open({ settings: settingsFor(standIn) })))
  await expectCreatedOnce(standIn, 'tabs')
  expect(requestsFor(standIn, 'tabs').map((r) => r.status)).toEqual([202, 201])
  // Exactly one of the tabs reports it sent.
  const sent = await Promise.all(
    tabs.map(async (tab) => (await tab.outcomes()).filter((o) => o.status === 'sent').length),
  )
  expect(sent.sort()).toEqual([0, 1])
})

const brokenStorage: Array<[string, string]> = [
  [
    'localStorage that throws on access',
    `Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('denied', 'SecurityError') } })`,
  ],
  [
    'localStorage that is full',
    // Only our key: analytics-next itself also writes to localStorage.
    `const setItem = Storage.prototype.setItem
    Storage.prototype.setItem = function (key, value) {
      if (key.startsWith('analytics-plugin-trustpilot')) throw new DOMException('full', 'QuotaExceededError')
      return setItem.call(this, key, value)
    }`,
  ],
]
for (const [name, script] of brokenStorage) {
  test(`${name}: delivered in-session, retries included`, async ({ shop, standIn, page }) => {
    const warnings: string[] = []
    page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()))
    await page.addInitScript(script)
    standIn.faults.push(500)
    await shop.open({ settings: settingsFor(standIn) })
    await shop.track('Order Completed', order('nostorage'))
    await expectCreatedOnce(standIn, 'nostorage', page)
    expect((await shop.outcomes()).map((o) => o.status)).toEqual(['retrying', 'sent'])
    if (name.includes('full')) expect(warnings.join('\n')).toMatch(/kept in memory for this page only/)
  })
}

test('corrupt stored data is ignored and logged', async ({ shop, standIn, page }) => {
  const warnings: string[] = []
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()))
  await page.addInitScript(() => {
    localStorage.setItem('analytics-plugin-trustpilot:delivery-key:broken', '{not json')
    localStorage.setItem('analytics-plugin-trustpilot:delivery-key:odd', JSON.stringify({ step: 'invite' }))
  })
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('after-corruption'))
  await expectCreatedOnce(standIn, 'after-corruption', page)
  const logged = warnings.join('\n')
  expect(logged).toMatch(/stored record "analytics-plugin-trustpilot:delivery-key:broken" is not valid; ignored it/)
  expect(logged).toMatch(/stored record "analytics-plugin-trustpilot:delivery-key:odd" is not valid; ignored it/)
  const keys = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('analytics-plugin')))
  expect(keys).toEqual(['analytics-plugin-trustpilot:delivery-key:after-corruption'])
})

test('the invitation is stored before its first request and leaves a tombstone after success', async ({
  shop,
  standIn,
  page,
}) => {
  standIn.faults.push('hang')
  await shop.open({ settings: settingsFor(standIn, { timeoutMs: 2_000 }) })
  await shop.track('Order Completed', order('stored'))
  const key = 'analytics-plugin-trustpilot:delivery-key:stored'
  const pending = await page.evaluate((k) => JSON.parse(localStorage.getItem(k) ?? '{}'), key)
  expect(pending.step).toBe('invite')
  expect(pending.invitation.body.referenceId).toBe('stored')
  expect(pending.lease.until).toBeGreaterThan(Date.now())
  await expectCreatedOnce(standIn, 'stored', page)
  await shop.waitForOutcome('sent', 'stored')
  const after = await page.evaluate((k) => JSON.parse(localStorage.getItem(k) ?? '{}'), key)
  expect(Object.keys(after)).toEqual(['sent'])
})
