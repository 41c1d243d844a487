import { defineConfig, type Project } from '@playwright/test'
import { findChromium, findFirefox, findWebKitGtk, hasPlaywrightWebKit } from './e2e/support/browsers'

// Every engine the tests need must be there: a missing one is an error, not a skip.
const chromium = findChromium()
const firefox = findFirefox()
const webkitGtk = findWebKitGtk()
for (const found of [chromium, firefox, webkitGtk]) {
  if ('error' in found) {
    console.error(found.error)
    process.exit(1)
  }
}
if ('error' in chromium || 'error' in firefox) throw new Error('unreachable')

/** The Playwright suite: every spec in e2e/, in each engine Playwright can drive. */
const pageSuite = { testDir: 'e2e', testMatch: '*.spec.ts', testIgnore: 'webkitgtk/**' }

const projects: Project[] = [
  {
    name: 'chromium',
    ...pageSuite,
    use: { browserName: 'chromium', launchOptions: { executablePath: chromium.executablePath } },
  },
  {
    name: 'firefox',
    ...pageSuite,
    use: {
      browserName: 'firefox',
      ...(firefox.channel && firefox.executablePath ? { channel: firefox.channel } : {}),
      launchOptions: { executablePath: firefox.executablePath },
    },
  },
  // WebKitGTK's MiniBrowser over W3C WebDriver (Playwright can't drive it): e2e/webkitgtk/.
  { name: 'webkitgtk', testDir: 'e2e/webkitgtk', testMatch: '*.spec.ts' },
]
if (hasPlaywrightWebKit()) {
  projects.push({ name: 'webkit', ...pageSuite, use: { browserName: 'webkit' } })
} else if (!process.env.TEST_WORKER_INDEX) {
  // stderr, so a machine-read report on stdout (--reporter=json) stays clean.
  console.warn(
    "webkit (Playwright's own) skipped: not installed (npx playwright install webkit); WebKitGTK runs instead",
  )
}

export default defineConfig({
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  globalSetup: './e2e/support/global-setup.ts',
  use: { trace: 'retain-on-failure' },
  projects,
})
