/**
 * Orders against the real HTTP Trustpilot stand-in on 127.0.0.1 (test/support/stand-in.ts), for every
 * browser suite: the Playwright specs and the WebKit suite (e2e/webkitgtk/). What a test tracks, the
 * settings that send it to the stand-in, and what the stand-in made of it. The flows both suites run
 * are in e2e/support/delivery-flows.ts.
 */
import { expect, type Page } from '@playwright/test'
import type { StandIn } from '../../test/support/stand-in'

/** An Order Completed's properties for order `id`: the email `<id>@example.com`, one product `sku-<id>`. */
export const order = (id: string) => ({ order_id: id, email: `${id}@example.com`, products: [{ sku: `sku-${id}` }] })

/**
 * A suite's `settingsFor(standIn, extra)`: its `apiKey` and settings (`timeoutMs`, `transport`, …),
 * the endpoint `standIn`'s, and `extra` over them.
 */
export const standInSettings =
  ({ apiKey, ...settings }: { apiKey: string } & Record<string, unknown>) =>
  (standIn: StandIn, extra: Record<string, unknown> = {}) => ({ apiKey, endpoint: standIn.url, ...settings, ...extra })

/** The requests the stand-in received for order `id`, in order. */
export const requestsFor = (standIn: StandIn, id: string) => standIn.requests.filter((r) => r.body.referenceId === id)

/** How many invitations the stand-in created for order `id`: more than one is a duplicate. */
export const createdCount = (standIn: StandIn, id: string) => standIn.created.get(id) ?? 0

/**
 * Waits until the invitation was created, then a little longer to catch any late duplicate: on
 * `page`'s clock when given, else on Node's.
 */
export async function expectCreatedOnce(standIn: StandIn, id: string, page?: Page) {
  await expect.poll(() => createdCount(standIn, id), { timeout: 20_000 }).toBe(1)
  await (page ? page.waitForTimeout(500) : new Promise((r) => setTimeout(r, 500)))
  expect(createdCount(standIn, id)).toBe(1)
}
