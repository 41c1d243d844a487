/**
 * Which browsers the tests drive. Each engine takes, in order: an env var naming the executable,
 * Playwright's own build where one is installed (`npx playwright install …`), else the system's
 * (Debian's chromium, firefox-esr, and WebKitGTK's WebKitWebDriver + MiniBrowser).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chromium, firefox, webkit } from '@playwright/test'

function onPath(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/** True when Playwright has downloaded its own build of this browser. */
function playwrightHas(browser: { executablePath(): string }): boolean {
  try {
    return existsSync(browser.executablePath())
  } catch {
    return false
  }
}

export type BrowserChoice = {
  /** undefined means Playwright's own build. */
  executablePath: string | undefined
  /** Playwright's channel for a stock browser: 'moz-firefox' drives a system Firefox over WebDriver BiDi. */
  channel?: string
  source: string
}
type Found = BrowserChoice | { error: string }

function find(
  envVar: string,
  own: { executablePath(): string },
  ownName: string,
  candidates: string[],
  install: string[],
  channel?: string,
): Found {
  const fromEnv = process.env[envVar]
  if (fromEnv) {
    return existsSync(fromEnv)
      ? { executablePath: fromEnv, channel, source: envVar }
      : { error: `${envVar} is set to ${fromEnv}, but no file is there.` }
  }
  if (playwrightHas(own)) return { executablePath: undefined, source: `Playwright's own ${ownName}` }
  for (const candidate of candidates) {
    const path = onPath(candidate)
    if (path) return { executablePath: path, channel, source: `system ${candidate}` }
  }
  return {
    error: [`No ${ownName} found for the browser tests. Get one of:`, ...install, `or point ${envVar} at one.`].join(
      '\n',
    ),
  }
}

export const findChromium = (): Found =>
  find(
    'CHROMIUM_PATH',
    chromium,
    'Chromium',
    ['chromium', 'chromium-browser', 'google-chrome-stable'],
    [
      '  npx playwright install chromium        (Playwright’s own build)',
      '  sudo apt-get install chromium          (Debian/Ubuntu package; brew install --cask chromium on macOS)',
    ],
  )

/**
 * Firefox: Playwright's own build (its Juggler protocol), or a stock Firefox driven over WebDriver
 * BiDi through the 'moz-firefox' channel.
 */
export const findFirefox = (): Found =>
  find(
    'FIREFOX_PATH',
    firefox,
    'Firefox',
    ['firefox-esr', 'firefox'],
    [
      '  npx playwright install firefox         (Playwright’s own build)',
      '  sudo apt-get install firefox-esr       (Debian package; any Firefox 129+ works)',
    ],
    'moz-firefox',
  )

/** Playwright's own WebKit, where `npx playwright install webkit` put one; it can't drive another. */
export const hasPlaywrightWebKit = () => playwrightHas(webkit)

export type WebKitGtkChoice = { driver: string; browser: string; xvfb: string | undefined }

/**
 * WebKitGTK over W3C WebDriver: WebKitWebDriver starts MiniBrowser. It needs a display; where none
 * is set, the fixture starts Xvfb.
 */
export function findWebKitGtk(): WebKitGtkChoice | { error: string } {
  const driver = process.env.WEBKIT_WEBDRIVER_PATH ?? onPath('WebKitWebDriver')
  const browser =
    process.env.MINIBROWSER_PATH ??
    [
      '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
      '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
      '/usr/libexec/webkit2gtk-4.1/MiniBrowser',
    ].find((path) => existsSync(path))
  const xvfb = onPath('Xvfb')
  if (driver && browser && existsSync(driver) && existsSync(browser) && (xvfb || process.env.DISPLAY)) {
    return { driver, browser, xvfb }
  }
  return {
    error: [
      'No WebKitGTK found for the WebKit tests. Get it with:',
      '  sudo apt-get install webkit2gtk-driver xvfb   (WebKitWebDriver and MiniBrowser)',
      'or point WEBKIT_WEBDRIVER_PATH and MINIBROWSER_PATH at them (and have Xvfb or a DISPLAY).',
    ].join('\n'),
  }
}

/** The engines the README names; `npm test` runs each, unless SKIP_ENGINES names it. */
export const ENGINES = ['chromium', 'firefox', 'webkit'] as const
export type Engine = (typeof ENGINES)[number]

/**
 * The WebKit engine, either way it can run: Playwright's own build (every spec in e2e/), and/or
 * WebKitGTK over WebDriver (the WebKit suite, e2e/webkitgtk/). Either one counts.
 */
export function findWebKit(): { playwright: boolean; gtk: WebKitGtkChoice | undefined } | { error: string } {
  const playwright = hasPlaywrightWebKit()
  const gtk = findWebKitGtk()
  if (playwright || !('error' in gtk)) return { playwright, gtk: 'error' in gtk ? undefined : gtk }
  return {
    error: [
      'No WebKit found for the browser tests. Get one of:',
      '  npx playwright install webkit                 (Playwright’s own build)',
      '  sudo apt-get install webkit2gtk-driver xvfb   (WebKitGTK: WebKitWebDriver and MiniBrowser, driven over WebDriver)',
      'or point WEBKIT_WEBDRIVER_PATH and MINIBROWSER_PATH at WebKitGTK’s (and have Xvfb or a DISPLAY).',
    ].join('\n'),
  }
}

/**
 * The engines SKIP_ENGINES (a comma list: chromium,firefox,webkit) names: left out on purpose. A
 * name that is no engine is an error, so a typo can't quietly skip nothing.
 */
export function skippedEngines(value = process.env.SKIP_ENGINES ?? ''): Set<Engine> | { error: string } {
  const names = value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean)
  const unknown = names.filter((name) => !(ENGINES as readonly string[]).includes(name))
  if (unknown.length) {
    return { error: `SKIP_ENGINES names ${unknown.join(', ')}: the engines are ${ENGINES.join(', ')}.` }
  }
  return new Set(names as Engine[])
}
