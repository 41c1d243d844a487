/**
 * The example shop that `npm start` serves: an order placed there shows its invitation, and its
 * controls show the guarantees (Trustpilot down, the buyer leaving) as they happen. The example is
 * built once, by the global setup.
 */
import type { Page } from '@playwright/test'
import { startExample } from '../scripts/start'
import { expect, test } from './support/fixtures'

type Example = Awaited<ReturnType<typeof startExample>>

const withExample = async (run: (example: Example) => Promise<void>) => {
  const example = await startExample(0)
  try {
    await run(example)
  } finally {
    await example.close()
  }
}

/** Sets Trustpilot's side with the page's control, and waits until the stand-in has changed. */
async function setMode(page: Page, label: string) {
  await page.getByLabel(label).check()
  await expect(page.locator('#wire .mode-change').last()).toContainText(label)
}

/** Places an order; its order id, as the page says it. */
async function order(page: Page) {
  await page.click('#place-order')
  const status = await page.locator('#status').textContent()
  return /Order (order-\w+) placed/.exec(status ?? '')?.[1] as string
}

test('the example loads without a console error', async ({ page }) => {
  const errors: string[] = []
  const infos: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
    if (message.type() === 'info') infos.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(String(error)))
  await withExample(async (example) => {
    await page.goto(example.url)
    await expect(page.locator('#storage')).toContainText('Nothing stored.')
    // The collector works: it heard the page's own line. Then a moment for late errors (a favicon).
    await expect.poll(() => infos).toContainEqual(expect.stringContaining('Example shop loaded'))
    await page.waitForTimeout(500)
    expect(errors).toEqual([])
  })
})

test('placing an order on the example shows the invitation Trustpilot receives', async ({ page }) => {
  await withExample(async (example) => {
    await page.goto(example.url)
    await expect(page.locator('#mode')).toContainText('local Trustpilot stand-in')
    // Replace the pre-filled address as a buyer would: select it, type over it. (page.fill appends
    // to a pre-filled email input in Firefox over WebDriver BiDi.)
    await page.click('input[name=email]')
    await page.keyboard.press('ControlOrMeta+a')
    await page.keyboard.type('buyer@example.com')
    await page.click('#place-order')
    const wire = page.locator('#wire li')
    await expect(wire).toHaveCount(2)
    await expect(wire.nth(0)).toContainText('→ 202 send again with products')
    await expect(wire.nth(0)).toContainText('"recipientEmail": "buyer@example.com"')
    await expect(wire.nth(1)).toContainText('→ 201 created')
    await expect(wire.nth(1)).toContainText('"productSkus"')
    await expect(page.locator('#outcomes li')).toContainText(['sent'])
    expect(example.standIn?.created.size).toBe(1)
    await page.screenshot({ path: test.info().outputPath('example.png'), fullPage: true })
  })
})

test('an order while Trustpilot is down is retrying, waits in storage, and is sent once it is back', async ({
  page,
}) => {
  await withExample(async (example) => {
    await page.goto(example.url)
    await setMode(page, 'Down (connection refused)')
    const id = await order(page)
    const outcomes = page.locator('#outcomes')
    await expect(outcomes).toContainText(`retrying · ${id}`)
    const stored = page.locator(`#storage li[data-order="${id}"]`)
    await expect(stored).toHaveAttribute('data-state', 'pending')
    await expect(stored).toContainText(/attempts [1-9]/)
    await expect(stored).toContainText(/next retry in \d+ s/)
    expect(example.standIn?.requests).toEqual([])
    await setMode(page, 'Answering normally')
    await expect(outcomes).toContainText(`sent · ${id}`, { timeout: 20_000 })
    await expect(stored).toHaveAttribute('data-state', 'sent')
    expect(example.standIn?.created.get(id)).toBe(1)
  })
})

test('an order the buyer leaves right after track is delivered by the next page', async ({ page }) => {
  await withExample(async (example) => {
    await page.goto(example.url)
    // Slow, so the page is gone before Trustpilot answers: what is left to do is the next page's.
    await setMode(page, 'Slow (answers after 3 s)')
    await page.click('#order-and-leave')
    // The next page says which order the buyer left behind.
    const left = page.locator('#status', { hasText: 'You left right after ordering' })
    const id = /ordering (order-\w+)/.exec((await left.textContent()) ?? '')?.[1] as string
    expect(id).toBeTruthy()
    await expect(page.locator('#outcomes')).toContainText(`sent · ${id}`, { timeout: 20_000 })
    await expect(page.locator(`#storage li[data-order="${id}"]`)).toHaveAttribute('data-state', 'sent')
    expect(example.standIn?.created.get(id)).toBe(1)
  })
})
