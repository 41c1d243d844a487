/**
 * A page without storage, as a real browser makes one (e2e/support/no-storage.ts: Chromium with site
 * data blocked; Firefox with cookies and site data blocked, or DOM storage off), each on a browser
 * launched for it, against the real HTTP Trustpilot stand-in on 127.0.0.1. Requests a page sends as
 * it goes away use keepalive, which Playwright routing can't see: what Trustpilot got is read from
 * the stand-in, and what the page said from the beacons it sent (startOutcomeReports).
 */
import { test as base, expect } from './support/fixtures'
import {
  type OutcomeReports,
  outcomeReportsFixture,
  storageBlocksFor,
  type WithoutStorage,
  withoutStorageFixture,
} from './support/no-storage'
import { order, requestsFor, standInSettings } from './support/orders'

const test = base.extend<{ reports: OutcomeReports; withoutStorage: WithoutStorage }>({
  reports: outcomeReportsFixture,
  withoutStorage: withoutStorageFixture,
})

// The default timeoutMs: nothing here waits on it.
const settingsFor = standInSettings({ apiKey: 'no-storage-key' })
const reportedFor = (reports: OutcomeReports, id: string) => reports.outcomes.filter((o) => o.referenceId === id)
const warning = (errorName: string) =>
  `warn: Trustpilot: localStorage failed (${errorName}); pending invitations are kept in memory for this page only, and end with it`

/** The page's own view of its storage: the name of what localStorage threw, or what it is. */
const storageSeen = (shop: { page: import('@playwright/test').Page }) =>
  shop.page.evaluate(() => {
    try {
      localStorage.getItem('probe')
      return 'usable'
    } catch (error) {
      return (error as Error).name
    }
  })

for (const leave of ['navigates away', 'closes'] as const) {
  test(`the page ${leave} right after track resolves: ONE request, products and all, answered 201, one invitation`, async ({
    browserName,
    withoutStorage,
    standIn,
    reports,
  }) => {
    const id = leave === 'closes' ? 'leave-close' : 'leave-away'
    const shop = await withoutStorage({ reportTo: reports.url })
    expect(await storageSeen(shop)).toBe(storageBlocksFor(browserName)[0]!.errorName)
    // Trustpilot answers after the page is gone, so the page never hears it.
    standIn.latencyMs = 300
    await shop.open({ settings: settingsFor(standIn) })
    if (leave === 'navigates away') {
      await shop.trackThenLeave(order(id))
    } else {
      await shop.track('Order Completed', order(id))
      await shop.page.close()
    }
    await expect.poll(() => requestsFor(standIn, id).length).toBeGreaterThanOrEqual(1)
    // Long past the stand-in's latency: time for a second request, were there one.
    await new Promise((r) => setTimeout(r, 1_500))
    const requests = requestsFor(standIn, id)
    expect(requests.map((r) => r.status)).toEqual([201])
    expect(requests[0]!.body).toMatchObject({
      referenceId: id,
      products: [{ sku: `sku-${id}` }],
      productSkus: [`sku-${id}`],
    })
    expect(standIn.created.get(id)).toBe(1)
    // What the page said before it went: the invitation was on the wire whole, so nothing about it
    // is lost, and no 'retrying' (a 'sent', had the page lived to hear the 201).
    const said = reportedFor(reports, id).map((o) => o.status)
    test.info().annotations.push({ type: 'reported before leaving', description: JSON.stringify(said) })
    expect(said.filter((status) => status !== 'sent')).toEqual([])
  })
}

test('the page warns once that invitations are kept in memory, with no email address in any console line', async ({
  browserName,
  withoutStorage,
  standIn,
}) => {
  const blocks = storageBlocksFor(browserName)
  // A browser launched for each setting: Firefox has two.
  test.slow(blocks.length > 1, 'one browser launch per setting')
  for (const [i, block] of blocks.entries()) {
    await test.step(block.name, async () => {
      const shop = await withoutStorage({ block })
      expect(await storageSeen(shop)).toBe(block.errorName)
      await shop.open({ settings: settingsFor(standIn) })
      // Two orders: the store is used again and again, and the warning still comes once.
      for (const n of [1, 2]) await shop.track('Order Completed', order(`warned-${i}-${n}`))
      await shop.waitForOutcome('sent', `warned-${i}-1`)
      await shop.waitForOutcome('sent', `warned-${i}-2`)
      const lines = await shop.consoleLines()
      expect(lines.filter((line) => line.includes('localStorage failed'))).toEqual([warning(block.errorName)])
      // Each order's email address is <id>@example.com (EMAIL would take a Firefox stack frame, `x@http://…js`, for one).
      expect(lines.filter((line) => line.includes('@example.com'))).toEqual([])
    })
  }
})

test("Trustpilot answers 503, then the page is left: before it goes, it reports 'retrying', kept in memory only", async ({
  withoutStorage,
  standIn,
  reports,
}) => {
  const shop = await withoutStorage({ reportTo: reports.url })
  // The retry would come a minute later: the page is gone long before.
  standIn.faults.push(503)
  standIn.retryAfter = '60'
  await shop.open({ settings: settingsFor(standIn) })
  await shop.track('Order Completed', order('lost'))
  await expect.poll(() => reportedFor(reports, 'lost').map((o) => o.status)).toEqual(['retrying'])
  expect(reportedFor(reports, 'lost')[0]?.reason).toMatch(/HTTP 503/)
  await shop.page.evaluate(() => {
    location.href = '/e2e/pages/elsewhere.html'
  })
  await shop.page.waitForURL('**/elsewhere.html')
  await expect
    .poll(() => reportedFor(reports, 'lost'))
    .toEqual([
      expect.objectContaining({ status: 'retrying', reason: expect.stringMatching(/HTTP 503/) }),
      { status: 'retrying', referenceId: 'lost', reason: expect.stringContaining('kept in memory only') },
    ])
  // Trustpilot got the one request that failed (products and all), and nothing after it.
  const requests = requestsFor(standIn, 'lost')
  expect(requests.map((r) => r.status)).toEqual([503])
  expect(requests[0]!.body).toMatchObject({ products: [{ sku: 'sku-lost' }], productSkus: ['sku-lost'] })
  expect(standIn.created.get('lost')).toBeUndefined()
})
