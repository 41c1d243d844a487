/**
 * Delivery against the real HTTP Trustpilot stand-in, one flow for every engine: the Playwright suite
 * (e2e/delivery.spec.ts) and the WebKit suite (e2e/webkitgtk/webkit.spec.ts) each drive it through
 * their own shop.
 */
import { expect } from '@playwright/test'
import type { StandIn } from '../../test/support/stand-in'
import type { Outcome, StartOptions } from './fixtures'
import { expectCreatedOnce, order, requestsFor } from './orders'

/** What a delivery flow needs of a shop, whichever driver is behind it. */
export interface DeliveryShop {
  open(options: StartOptions): Promise<void>
  track(event: string, properties: Record<string, unknown>): Promise<unknown>
  waitForOutcome(status: string, referenceId?: string): Promise<Outcome | undefined>
}

/** Trustpilot down when order `id` is tracked: the stand-in stops listening, the order is `retrying`. */
export async function orderWhileDown(
  shop: DeliveryShop,
  standIn: StandIn,
  settings: Record<string, unknown>,
  id: string,
) {
  await standIn.down()
  await shop.open({ settings })
  await shop.track('Order Completed', order(id))
  await shop.waitForOutcome('retrying', id)
}

/**
 * A 429 with `Retry-After: 2`: reported `retrying` "next in 2 s", then created once, the second request
 * at least 1.9 s after the first. e2e/delivery.spec.ts's and the WebKit suite's "429 with Retry-After
 * waits as told".
 */
export async function expectRetryAfterHonoured(
  shop: DeliveryShop,
  standIn: StandIn,
  settings: Record<string, unknown>,
) {
  standIn.faults.push(429)
  standIn.retryAfter = '2'
  await shop.open({ settings })
  await shop.track('Order Completed', order('limited'))
  const retrying = await shop.waitForOutcome('retrying', 'limited')
  expect(retrying?.reason).toMatch(/HTTP 429; attempt 1 failed, next in 2 s/)
  await expectCreatedOnce(standIn, 'limited')
  const [first, second] = requestsFor(standIn, 'limited')
  expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_900)
}

/**
 * A 503 with `Retry-After: 3600`, then the page is offline and back online (`offlineAndBack`, as the
 * driver can): the pending invitation goes at once, not after its backoff. e2e/delivery.spec.ts's and
 * the WebKit suite's "back online".
 */
export async function expectBackOnlineSendsAtOnce(
  shop: DeliveryShop,
  standIn: StandIn,
  settings: Record<string, unknown>,
  offlineAndBack: () => Promise<unknown>,
) {
  standIn.faults.push(503)
  standIn.retryAfter = '3600'
  await shop.open({ settings })
  await shop.track('Order Completed', order('online'))
  const retrying = await shop.waitForOutcome('retrying', 'online')
  expect(retrying?.reason).toMatch(/next in 3600 s/)
  await offlineAndBack()
  await expectCreatedOnce(standIn, 'online')
}
