/**
 * Takes docs/example-shop.png: the example shop in headless Chromium after one order delivered
 * normally and one placed while Trustpilot is down, so the picture shows every panel at work.
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
  await page.goto(example.url)
  await page.click('#place-order')
  await expect(page.locator('#outcomes')).toContainText('sent')
  await page.getByLabel('Down (connection refused)').check()
  await page.waitForTimeout(100)
  await page.click('#place-order')
  await expect(page.locator('#storage')).toContainText(/attempts 2 · next retry in \d s/)
  await page.screenshot({ path: 'docs/example-shop.png', fullPage: true })
} finally {
  await browser.close()
  await example.close()
}
