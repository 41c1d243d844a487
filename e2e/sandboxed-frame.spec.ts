/**
 * The plugin in a frame with an opaque origin, driven directly (no analytics-next, which cancels every
 * event in such a frame: e2e/opaque-frame.spec.ts covers that): `<iframe sandbox="allow-scripts"
 * srcdoc=…>`, and a page served with the CSP `sandbox allow-scripts`. The flows are shared with the
 * WebKit suite (e2e/support/sandbox-host.ts); what reached the relay's path and Trustpilot is read from
 * real servers on 127.0.0.1.
 */
import type { Frame, Page } from '@playwright/test'
import { test as base, expect } from './support/fixtures'
import * as sandbox from './support/sandbox-host'

const test = base.extend<{
  host: sandbox.SandboxHost
  pageErrors: string[]
  shape: sandbox.SandboxShape
  frame: sandbox.OpaqueFrame
}>({
  host: sandbox.sandboxHostFixture,
  // Each describe below sets its shape; `frame` is that shape opened.
  shape: ['srcdoc', { option: true }],
  frame: async ({ page, host, shape }, use) => use(await openFrame(page, host, shape)),
  // Anything uncaught in the page or its frames, as Playwright hears it.
  pageErrors: async ({ page }, use) => {
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(`${error.name}: ${error.message}`))
    await use(errors)
  },
})

/** Opens `shape` and resolves with the frame whose origin is opaque, once its script has run. */
async function openFrame(
  page: Page,
  host: sandbox.SandboxHost,
  shape: sandbox.SandboxShape,
): Promise<sandbox.OpaqueFrame> {
  await page.goto(host.pageFor(shape))
  let frame: Frame = page.mainFrame()
  if (shape === 'srcdoc') {
    await expect.poll(() => page.frames().length).toBe(2)
    frame = page.frames().find((f) => f !== page.mainFrame())!
  }
  await frame.waitForFunction(() => typeof (window as any).order === 'function')
  // The frame really is opaque, and really has no storage.
  expect(await frame.evaluate(`(() => { ${sandbox.FRAME_PROBE_SCRIPT} })()`)).toEqual(['null', 'SecurityError'])
  return {
    order: async (settings, properties) => {
      await frame.evaluate(([s, p]) => (window as any).order(s, p), [settings, properties] as const)
    },
    state: () => frame.evaluate(`(() => { ${sandbox.FRAME_STATE_SCRIPT} })()`) as Promise<sandbox.FrameState>,
  }
}

for (const shape of sandbox.SANDBOX_SHAPES) {
  test.describe(shape, () => {
    test.use({ shape })
    test('a path endpoint: failed at once with the opaque-origin reason, nothing thrown, no request', async ({
      frame,
      host,
      standIn,
      pageErrors,
    }) => {
      const failed = await sandbox.expectPathEndpointFails(frame, host, standIn)
      test.info().annotations.push({ type: 'failed after', description: `${failed.afterMs} ms` })
      expect(pageErrors).toEqual([])
    })

    test('a full URL endpoint (the loopback stand-in): sent in ONE request that carries the products', async ({
      frame,
      host,
      standIn,
      pageErrors,
    }) => {
      const request = await sandbox.expectSentInOneRequest(frame, host, standIn)
      // What the engine sends from such a frame, for docs/browsers.md.
      expect(request.origin).toBe('null')
      expect(pageErrors).toEqual([])
    })
  })
}
