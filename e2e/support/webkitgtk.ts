/**
 * WebKitGTK over W3C WebDriver: starts a display (Xvfb, when none is set) and WebKitWebDriver, and
 * opens MiniBrowser sessions with selenium-webdriver. Used by the WebKit suite and the soak.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { Builder, type WebDriver } from 'selenium-webdriver'
import { findWebKitGtk } from './browsers'

export interface WebKitDriver {
  /** WebKitWebDriver's address. */
  url: string
  /** MiniBrowser's path. */
  browser: string
  close(): Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
    probe.once('error', reject)
  })

/** Waits for `ready` to hold, every 100 ms, for at most `ms`; throws `what` past that. */
export async function waitUntil(ready: () => Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} within ${ms} ms`)
}

/** Starts Xvfb on a free display number and resolves with it, e.g. ":99". */
function startXvfb(path: string): Promise<{ display: string; process: ChildProcess }> {
  const xvfb = spawn(path, ['-displayfd', '3', '-screen', '0', '1280x900x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let errors = ''
    xvfb.stderr?.on('data', (chunk) => {
      errors += chunk
    })
    xvfb.stdio[3]?.once('data', (chunk) => resolve({ display: `:${String(chunk).trim()}`, process: xvfb }))
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited with ${code}: ${errors}`)))
  })
}

/** Starts WebKitWebDriver (and Xvfb where there is no display), ready for sessions. */
export async function startWebKitDriver(): Promise<WebKitDriver> {
  const found = findWebKitGtk()
  if ('error' in found) throw new Error(found.error)
  let display = process.env.DISPLAY
  let xvfb: ChildProcess | undefined
  if (!display && found.xvfb) ({ display, process: xvfb } = await startXvfb(found.xvfb))
  const port = await freePort()
  const driver = spawn(found.driver, [`--port=${port}`], { env: { ...process.env, DISPLAY: display }, stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  await waitUntil(async () => (await fetch(`${url}/status`)).ok, 10_000, 'WebKitWebDriver did not start')
  return {
    url,
    browser: found.browser,
    close: async () => {
      driver.kill()
      xvfb?.kill()
    },
  }
}

/**
 * A fresh MiniBrowser session: a new window with empty storage. `args` go to MiniBrowser beside
 * `--automation`, e.g. a WebKitSettings property (`--enable-html5-local-storage=false`).
 */
export async function newWebKitSession(driver: WebKitDriver, args: string[] = []): Promise<WebDriver> {
  const session = await new Builder()
    .usingServer(driver.url)
    .withCapabilities({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: driver.browser, args: ['--automation', ...args] },
    })
    .build()
  await session.manage().setTimeouts({ script: 20_000, pageLoad: 20_000 })
  return session
}
