/**
 * The example shop that `npm start` serves: an order placed there shows its invitation, and its
 * controls show the guarantees (Trustpilot down, the buyer leaving, the buyer's content blocker and
 * the shop's relay) as they happen. The example is built once, by the global setup.
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

/** Turns the buyer's content blocker on or off with the page's control, and waits until the stand-in has it. */
async function setBlocker(page: Page, on: boolean) {
  await page.getByLabel('Runs a content blocker').setChecked(on)
  await expect(page.locator('#wire .mode-change').last()).toContainText(`content blocker: ${on ? 'on' : 'off'}`)
}

/** Switches the plugin's endpoint with the page's control: the page reloads, with the plugin registered anew. */
async function setRoute(page: Page, route: 'direct' | 'relay') {
  await page.getByLabel(route === 'relay' ? "Through the shop's relay" : "Straight to Trustpilot's endpoint").check()
  await page.waitForURL((url) => url.searchParams.get('route') === (route === 'relay' ? 'relay' : null))
  await expect(page.locator('#mode')).toContainText(
    route === 'relay' ? "go through the shop's relay" : 'go straight to',
  )
}

/** What the stand-in received for order `id`: answer, the Origin it saw, and whether a browser sent it. */
const received = (example: Example, id: string) =>
  (example.standIn?.requests ?? [])
    .filter((r) => r.body.referenceId === id)
    .map((r) => ({ status: r.status, origin: r.origin, fromBrowser: r.fromBrowser }))

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
    // Straight from the page, with its Origin.
    for (const line of [wire.nth(0), wire.nth(1)]) {
      await expect(line).toHaveAttribute('data-route', 'direct')
      await expect(line).toContainText(`from the buyer's browser · Origin ${example.url}`)
    }
    await expect(page.locator('#outcomes li')).toContainText(['sent'])
    expect(example.standIn?.created.size).toBe(1)
    expect(example.standIn?.requests.map((r) => r.fromBrowser)).toEqual([true, true])
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

test("with the buyer's content blocker, a request straight to Trustpilot never arrives: retrying, a network error", async ({
  page,
}) => {
  await withExample(async (example) => {
    await page.goto(example.url)
    await setBlocker(page, true)
    const id = await order(page)
    await expect(page.locator('#outcomes')).toContainText(new RegExp(`retrying · ${id}: network error: `))
    // The page's log says the request never arrived; the stand-in indeed has nothing.
    await expect(page.locator('#wire li.stopped').first()).toContainText(
      "stopped in the browser by the buyer's content blocker, never arrived",
    )
    await expect(page.locator(`#storage li[data-order="${id}"]`)).toHaveAttribute('data-state', 'pending')
    await expect(page.locator('#wire li.request')).toHaveCount(0)
    expect(example.standIn?.requests).toEqual([])
  })
})

test("with the buyer's content blocker, the relay gets through: 202, products, 201, sent, with the shop's Origin", async ({
  page,
}) => {
  await withExample(async (example) => {
    await page.goto(example.url)
    await setRoute(page, 'relay')
    await setBlocker(page, true)
    const id = await order(page)
    const requests = page.locator('#wire li.request')
    await expect(requests).toHaveCount(2)
    await expect(requests.nth(0)).toContainText('→ 202 send again with products')
    await expect(requests.nth(1)).toContainText('→ 201 created')
    await expect(requests.nth(1)).toContainText('"productSkus"')
    for (const line of [requests.nth(0), requests.nth(1)]) {
      await expect(line).toHaveAttribute('data-route', 'relay')
      await expect(line).toContainText(`Origin ${example.url}: the shop's, forwarded by the relay`)
    }
    await expect(page.locator('#outcomes')).toContainText(`sent · ${id}`)
    await expect(page.locator(`#storage li[data-order="${id}"]`)).toHaveAttribute('data-state', 'sent')
    await expect(page.locator('#wire li.stopped')).toHaveCount(0)
    // The stand-in had both from the server (no browser's headers), each with the shop's Origin.
    const relayed = { origin: example.url, fromBrowser: false }
    expect(received(example, id)).toEqual([
      { status: 202, ...relayed },
      { status: 201, ...relayed },
    ])
    expect(example.standIn?.created.get(id)).toBe(1)
  })
})

test('the route switch switches: an order the blocker stopped is sent through the relay after it, and back again', async ({
  page,
}) => {
  // Two retries waited for, and two reloads: more than the default 30 s on a loaded machine.
  test.setTimeout(60_000)
  await withExample(async (example) => {
    await page.goto(example.url)
    await setBlocker(page, true)
    const stopped = await order(page)
    const outcomes = page.locator('#outcomes')
    await expect(outcomes).toContainText(`retrying · ${stopped}`)
    expect(example.standIn?.requests).toEqual([])
    // Through the relay: the reloaded page takes the order from storage and sends it at its next retry.
    await setRoute(page, 'relay')
    await expect(outcomes).toContainText(`sent · ${stopped}`, { timeout: 20_000 })
    const relayed = { origin: example.url, fromBrowser: false }
    expect(received(example, stopped)).toEqual([
      { status: 202, ...relayed },
      { status: 201, ...relayed },
    ])
    await expect(page.locator('#wire li.request').last()).toHaveAttribute('data-route', 'relay')
    // And back: straight to Trustpilot, which the blocker stops, until it is off.
    await setRoute(page, 'direct')
    const direct = await order(page)
    await expect(outcomes).toContainText(`retrying · ${direct}`)
    expect(received(example, direct)).toEqual([])
    await setBlocker(page, false)
    await expect(outcomes).toContainText(`sent · ${direct}`, { timeout: 20_000 })
    const fromPage = { origin: example.url, fromBrowser: true }
    expect(received(example, direct)).toEqual([
      { status: 202, ...fromPage },
      { status: 201, ...fromPage },
    ])
    await expect(page.locator('#wire li.request').last()).toHaveAttribute('data-route', 'direct')
    expect([example.standIn?.created.get(stopped), example.standIn?.created.get(direct)]).toEqual([1, 1])
  })
})
