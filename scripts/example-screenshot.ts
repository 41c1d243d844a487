/**
 * Takes docs/example-shop.png: the example shop in headless Chromium with every control at work. An
 * order delivered straight to Trustpilot; the buyer's content blocker on, and the next order stopped
 * in the browser; the switch to the shop's relay, which sends that order past the blocker; then
 * Trustpilot down, so the relay answers 502 itself and a third order waits in storage.
 * Run: `npm run build && npx tsx scripts/example-screenshot.ts`.
 */
import { chromium, expect } from '@playwright/test'
import { findChromium } from '../e2e/support/browsers'
import { buildExample, startExample } from './start'

const found = findChromium()
if ('error' in found) throw new Error(found.error)
await buildExample()
const example = await startExample(0)
const browser = await chromium.launch({ executablePath: found.executablePath })
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const outcomes = page.locator('#outcomes')
  await page.goto(example.url)
  await page.click('#place-order')
  await expect(outcomes).toContainText('sent')
  await page.getByLabel('Runs a content blocker').check()
  await expect(page.locator('#wire')).toContainText('content blocker: on')
  await page.click('#place-order')
  await expect(page.locator('#wire li.stopped')).toHaveCount(2)
  await page.getByLabel("Through the shop's relay").check()
  await page.waitForURL(/route=relay/)
  await expect(outcomes).toContainText('sent', { timeout: 20_000 })
  await page.getByLabel('Down (connection refused)').check()
  await expect(page.locator('#wire .mode-change').last()).toContainText('Down')
  await page.click('#place-order')
  // This order's own row: the panel, read every half second, may still show the last one pending.
  const id = /Order (order-\w+) placed/.exec((await page.locator('#status').textContent()) ?? '')?.[1]
  await expect(page.locator(`#storage li[data-order="${id}"]`)).toContainText(/attempts 2 · next retry in \d s/)
  await page.screenshot({ path: 'docs/example-shop.png', fullPage: true })
} finally {
  await browser.close()
  await example.close()
}
