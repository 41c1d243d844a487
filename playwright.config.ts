import { defineConfig, type Project } from '@playwright/test'
import { findChromium, findFirefox, findWebKit, skippedEngines } from './e2e/support/browsers'

/**
 * Every engine the README names (Chromium, Firefox, WebKit) must run: one that can't is an error
 * naming what to install, not a skip, unless SKIP_ENGINES names it. WebKit is Playwright's own build
 * where installed, and WebKitGTK (over WebDriver) where that is: either counts.
 */
// Playwright evaluates this file again in each worker: say things once, in the main process, and on
// stderr, so a machine-read report on stdout (--reporter=json) stays clean.
const say = (line: string) => {
  if (!process.env.TEST_WORKER_INDEX) console.error(line)
}
function fail(message: string): never {
  console.error(message)
  process.exit(1)
}

const skip = skippedEngines()
if ('error' in skip) fail(skip.error)
// With no project at all, Playwright would run every spec in a default one, WebKit's suite included.
if (skip.size === 3) fail('SKIP_ENGINES names every engine: there is nothing left to test in a browser.')
const found = {
  chromium: skip.has('chromium') ? undefined : findChromium(),
  firefox: skip.has('firefox') ? undefined : findFirefox(),
  webkit: skip.has('webkit') ? undefined : findWebKit(),
}
const missing = Object.values(found).flatMap((engine) => (engine && 'error' in engine ? [engine.error] : []))
if (missing.length) {
  fail(
    [
      'The browser tests run in every engine the README names: Chromium, Firefox and WebKit.',
      '',
      ...missing.flatMap((error) => [error, '']),
      'To leave an engine out on purpose, name it in SKIP_ENGINES (a comma list of chromium, firefox, webkit),',
      'e.g. SKIP_ENGINES=webkit npm test',
    ].join('\n'),
  )
}
for (const engine of skip) say(`${engine} skipped on purpose (SKIP_ENGINES): none of its tests run`)

/** The Playwright suite: every spec in e2e/, in each engine Playwright can drive. */
const pageSuite = { testDir: 'e2e', testMatch: '*.spec.ts', testIgnore: 'webkitgtk/**' }

const projects: Project[] = []
const { chromium, firefox, webkit } = found
if (chromium && !('error' in chromium)) {
  projects.push({
    name: 'chromium',
    ...pageSuite,
    use: { browserName: 'chromium', launchOptions: { executablePath: chromium.executablePath } },
  })
}
if (firefox && !('error' in firefox)) {
  projects.push({
    name: 'firefox',
    ...pageSuite,
    use: {
      browserName: 'firefox',
      ...(firefox.channel && firefox.executablePath ? { channel: firefox.channel } : {}),
      launchOptions: { executablePath: firefox.executablePath },
    },
  })
}
if (webkit && !('error' in webkit)) {
  // WebKitGTK's MiniBrowser over W3C WebDriver (Playwright can't drive it): e2e/webkitgtk/.
  if (webkit.gtk) projects.push({ name: 'webkitgtk', testDir: 'e2e/webkitgtk', testMatch: '*.spec.ts' })
  else say("webkitgtk skipped: WebKitGTK not found; WebKit runs as Playwright's own (every spec in e2e/)")
  if (webkit.playwright) projects.push({ name: 'webkit', ...pageSuite, use: { browserName: 'webkit' } })
  else say("webkit (Playwright's own) skipped: not installed (npx playwright install webkit); WebKitGTK runs instead")
}

export default defineConfig({
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  // On CI, one more try for a test that failed: on a loaded 2-core machine, starting a WebKitGTK
  // WebDriver session alone has taken past the 30 s timeout. Playwright reports a test that passed
  // only on its retry as "flaky", so it stays visible; one that fails twice fails the run.
  retries: process.env.CI ? 1 : 0,
  reporter: [['list']],
  globalSetup: './e2e/support/global-setup.ts',
  use: { trace: 'retain-on-failure' },
  projects,
})
