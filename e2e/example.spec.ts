/** The example shop that `npm start` serves: an order placed there shows its invitation. */
import { buildExample, startExample } from '../scripts/start'
import { expect, test } from './support/fixtures'

test('placing an order on the example shows the invitation Trustpilot receives', async ({ page }) => {
  await buildExample()
  const example = await startExample(0)
  try {
    await page.goto(example.url)
    await expect(page.locator('#mode')).toContainText('local Trustpilot stand-in')
    await page.fill('input[name=email]', 'buyer@example.com')
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
