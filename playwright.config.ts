import { defineConfig } from '@playwright/test'
import { findChromium } from './e2e/support/chromium'

const chromium = findChromium()
if ('error' in chromium) {
  console.error(chromium.error)
  process.exit(1)
}

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  globalSetup: './e2e/support/global-setup.ts',
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath: chromium.executablePath },
    trace: 'retain-on-failure',
  },
})
