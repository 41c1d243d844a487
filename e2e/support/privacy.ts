/**
 * The console-privacy check, one flow for every engine: the Playwright suite (e2e/hardening.spec.ts)
 * and the WebKit suite (e2e/webkitgtk/webkit.spec.ts) each drive it through their own shop. What the
 * page logged is read from the page itself (e2e/pages/console-capture.js), every argument serialized
 * whole, so an email address inside a logged object is seen, in each engine alike.
 */
import { expect } from '@playwright/test'
import { SEED_PROPERTIES } from '../../test/support/fixtures'
import type { Outcome, StartOptions } from './fixtures'

/** Anything shaped like an email address, however it is quoted or nested in a line. */
export const EMAIL = /[^\s@"'<>]+@[^\s@"'<>]+\.[a-z]{2,}/i

/** What the flow needs of a shop, whichever driver is behind it. */
export interface ConsoleShop {
  open(options: StartOptions): Promise<void>
  call(method: string, ...args: unknown[]): Promise<unknown>
  track(event: string, properties: Record<string, unknown>): Promise<unknown>
  waitForOutcome(status: string, referenceId?: string): Promise<Outcome | undefined>
  /** Everything the page logged so far, one `<method>: <args>` line per call. */
  consoleLines(): Promise<string[]>
  /** Puts `value` at `key` in the shop's localStorage before the plugin loads. */
  seedStorage(key: string, value: string): Promise<void>
}

export const PRIVACY_KEY = 'privacy-key'

/**
 * A full order flow with every kind of outcome (sent, skipped three ways, a corrupt stored record,
 * a known user's traits), and what the page logged during it.
 */
export async function consoleOfAnOrderFlow(shop: ConsoleShop, debug: boolean) {
  // Logged whether or not debug is on: the proof the console was heard even when nothing else is.
  await shop.seedStorage(`analytics-plugin-trustpilot:${PRIVACY_KEY}:junk`, '{oops')
  await shop.open({ via: 'module', settings: { apiKey: PRIVACY_KEY, debug } })
  await shop.call('identify', 'user-1', { email: 'known.buyer@example.com', name: 'Known Buyer' })
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'ok', email: 'buyer@example.com' })
  await shop.track('Order Completed', { order_id: 'bad-email', email: 'buyer@@example.com' })
  await shop.track('Order Completed', { order_id: 'ok', email: 'buyer@example.com' })
  await shop.track('Order Completed', { email: 'no.order@example.com' })
  await shop.waitForOutcome('sent', 'ok')
  return shop.consoleLines()
}

/** Debug off: the console was heard, and no line holds an email address, however deeply nested. */
export function expectNoEmail(lines: string[]) {
  expect(lines.join('\n')).toMatch(/^warn: .*stored record .* is not valid/m)
  expect(lines.filter((line) => EMAIL.test(line))).toEqual([])
}

/**
 * Debug on: the reasons, and the invitation logged with each outcome, email and all. This is what
 * shows the capture sees inside a logged object: Playwright's own console text says `Object` here.
 */
export function expectReasonsAndInvitations(lines: string[]) {
  const text = lines.join('\n')
  expect(text).toMatch(/^warn: Trustpilot skipped bad-email: properties\.email is not an email address/m)
  expect(text).toMatch(
    /^warn: Trustpilot skipped ok: already invited or pending \{.*"recipientEmail": "buyer@example\.com"/m,
  )
  expect(text).toMatch(/^warn: Trustpilot skipped: properties\.order_id is missing/m)
  expect(text).toMatch(/^info: Trustpilot sent ok: accepted by Trustpilot \{.*"recipientEmail": "buyer@example\.com"/m)
}
