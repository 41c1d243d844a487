/** The example shop that `npm start` serves: an order placed there shows its invitation. */
import { buildExample, startExample } from '../scripts/start'
import { expect, test } from './support/fixtures'

test('placing an order on the example shows the invitation Trustpilot receives', async ({ page }) => {
  await buildExample()
  const example = await startExample(0)
  try {
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
  } finally {
    await example.close()
  }
})
