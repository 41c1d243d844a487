/**
 * Which Chromium the browser tests drive: CHROMIUM_PATH if set, else Playwright's own browser if one
 * is installed, else the system's chromium. Returns undefined for "Playwright's own".
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chromium } from '@playwright/test'

const SYSTEM_CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']

function onPath(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

export type ChromiumChoice = { executablePath: string | undefined; source: string }

export function findChromium(): ChromiumChoice | { error: string } {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv) {
    return existsSync(fromEnv)
      ? { executablePath: fromEnv, source: 'CHROMIUM_PATH' }
      : { error: `CHROMIUM_PATH is set to ${fromEnv}, but no file is there.` }
  }
  try {
    if (existsSync(chromium.executablePath())) return { executablePath: undefined, source: "Playwright's own Chromium" }
  } catch {
    // Playwright has no browser of its own installed: fall through to the system's.
  }
  for (const candidate of SYSTEM_CANDIDATES) {
    const path = onPath(candidate)
    if (path) return { executablePath: path, source: `system ${candidate}` }
  }
  return {
    error: [
      'No Chromium found for the browser tests. Get one of:',
      '  npx playwright install chromium        (Playwright’s own build)',
      '  sudo apt-get install chromium          (Debian/Ubuntu package; brew install --cask chromium on macOS)',
      'or point CHROMIUM_PATH at a Chromium or Chrome executable.',
    ].join('\n'),
  }
}
