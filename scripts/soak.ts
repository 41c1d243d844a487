/**
 * `npm run soak`: a bounded fault-injection run in a real browser against the loopback stand-in.
 *
 * The engine: `--browser chromium|firefox|webkit` or SOAK_BROWSER (default chromium). Chromium and
 * Firefox are driven by Playwright; WebKit is WebKitGTK's MiniBrowser over WebDriver.
 *
 * Up to SOAK_ORDERS orders (1–200, default 200) are tracked across several tabs while the stand-in
 * answers 5xx, drops connections and hangs, and the tabs navigate away, reload, close and open. Then
 * one tab stays open until every order a page received is delivered or the 2-minute budget runs out.
 *
 * An order counts from the page's side, not the driver's: each shop page registers a second
 * destination that writes every Order Completed its `track` received to localStorage (one key per
 * order and message id, so tabs never overwrite each other), and the run reads that record back at
 * the end. A step of the driver that fails or times out (a navigation, a script) is counted as a
 * driver fault and the run goes on. The goals (test/support/soak-goals.ts: nothing received is lost, pages
 * received at least 90% of the planned orders, driver faults under 2% of the steps, every duplicate
 * tied to a page death or to the browser's own resend) are printed met or MISSED, and any MISSED
 * exits 1. So does a run that can't measure: no order planned, or a first shop page on which the
 * plugin can't start.
 */
import { parseArgs } from 'node:util'
import { chromium, firefox, type Page } from '@playwright/test'
import type { WebDriver } from 'selenium-webdriver'
import { findChromium, findFirefox } from '../e2e/support/browsers'
import buildTestPages from '../e2e/support/global-setup'
import { newWebKitSession, startWebKitDriver } from '../e2e/support/webkitgtk'
import { withTimeout } from '../src/timeout'
import { judgeSoak } from '../test/support/soak-goals'
import { startStandIn } from '../test/support/stand-in'
import { startStaticServer } from '../test/support/static-server'

const ENGINES = ['chromium', 'firefox', 'webkit'] as const
type Engine = (typeof ENGINES)[number]
const { values: args } = parseArgs({ options: { browser: { type: 'string' } } })
const engine = (args.browser ?? process.env.SOAK_BROWSER ?? 'chromium') as Engine
if (!ENGINES.includes(engine)) {
  console.error(`soak: unknown browser "${engine}"; use one of ${ENGINES.join(', ')}`)
  process.exit(2)
}

/** One tab of the shop, whatever drives it. `run` evaluates an expression (awaiting a promise). */
interface Tab {
  goto(url: string): Promise<void>
  run(expression: string): Promise<unknown>
  reload(): Promise<void>
  close(): Promise<void>
}
interface Session {
  newTab(): Promise<Tab>
  close(): Promise<void>
}

async function playwrightSession(which: 'chromium' | 'firefox'): Promise<Session> {
  const found = which === 'chromium' ? findChromium() : findFirefox()
  if ('error' in found) throw new Error(found.error)
  const type = which === 'chromium' ? chromium : firefox
  const browser = await type.launch({
    executablePath: found.executablePath,
    ...(found.channel && found.executablePath ? { channel: found.channel } : {}),
  })
  const context = await browser.newContext()
  const tab = (page: Page): Tab => ({
    goto: async (url) => void (await page.goto(url)),
    run: (expression) => page.evaluate(expression),
    reload: async () => void (await page.reload()),
    close: () => page.close(),
  })
  return { newTab: async () => tab(await context.newPage()), close: () => browser.close() }
}

/** WebDriver has one current window: every step of a tab first switches to it. */
async function webkitSession(): Promise<Session> {
  const driver = await startWebKitDriver()
  let session: WebDriver
  try {
    session = await newWebKitSession(driver)
  } catch (error) {
    await driver.close()
    throw error
  }
  let first = true
  const tab = (handle: string): Tab => {
    const here = () => session.switchTo().window(handle)
    return {
      goto: async (url) => {
        await here()
        await session.get(url)
      },
      run: async (expression) => {
        await here()
        const result = await session.executeAsyncScript<{ value?: unknown; error?: string }>(
          `const done = arguments[arguments.length - 1]
          Promise.resolve().then(() => ${expression}).then((value) => done({ value }), (e) => done({ error: String(e) }))`,
        )
        if (result?.error) throw new Error(result.error)
        return result?.value
      },
      reload: async () => {
        await here()
        await session.navigate().refresh()
      },
      close: async () => {
        await here()
        await session.close()
      },
    }
  }
  return {
    async newTab() {
      if (!first) await session.switchTo().newWindow('tab')
      first = false
      return tab(await session.getWindowHandle())
    },
    close: async () => {
      await session.quit().catch(() => {})
      await driver.close()
    },
  }
}

/** SOAK_ORDERS, 1 to 200: a run that plans no order measures nothing and must not pass. */
function plannedOrders(): number {
  const value = Number(process.env.SOAK_ORDERS ?? 200)
  if (!Number.isInteger(value) || value < 1 || value > 200) {
    console.error(`soak: SOAK_ORDERS must be a whole number from 1 to 200, not "${process.env.SOAK_ORDERS}"`)
    process.exit(2)
  }
  return value
}
const ORDERS = plannedOrders()
const BUDGET_MS = 120_000
const TRAFFIC_MS = 75_000
const MAX_TABS = 3

const started = Date.now()
const elapsed = () => Date.now() - started
const pick = <T>(weights: Array<[T, number]>): T => {
  let roll = Math.random() * weights.reduce((sum, [, w]) => sum + w, 0)
  for (const [value, weight] of weights) {
    roll -= weight
    if (roll < 0) return value
  }
  return weights[0]![0]
}

// The harness page loads e2e/.build/analytics-next.js, which only this builder makes: build it here,
// so a fresh clone's `npm run soak` loads what it needs (it also checks that dist/ is built).
await buildTestPages()
const site = await startStaticServer('.')
const standIn = await startStandIn()
const settings = { apiKey: 'soak-key', endpoint: standIn.url, timeoutMs: 1_000, debug: !!process.env.SOAK_DEBUG }
/**
 * This run's mark on order ids and on the pages' record: a browser profile that keeps its storage
 * between runs (WebKitGTK's may) then can't count an earlier run's orders as this run's.
 */
const RUN = started.toString(36)
const RECORD_PREFIX = `soak-received:${RUN}:`
const events: string[] = []
/** When a page was sent away (navigation, reload, closed tab). */
const deaths: number[] = []
/** When a shop page was opened and the plugin had started on it. */
const births: number[] = []
const counts = {
  '5xx': 0,
  resets: 0,
  hangs: 0,
  navigations: 0,
  reloads: 0,
  'tabs opened': 0,
  'tabs closed': 0,
  'tracked twice': 0,
  'driver steps': 0,
  'driver faults': 0,
}
/** Every order id the driver tracked, each once however often. */
const planned: string[] = []
let session: Session | undefined

/** How long one step of the driver may take before it counts as a fault. */
const STEP_MS = 15_000

/** Runs one step of the driver, bounded; a failure or timeout is counted, never thrown. */
async function step<T>(what: string, action: () => Promise<T>): Promise<T | undefined> {
  counts['driver steps']++
  try {
    return await withTimeout(action(), STEP_MS, 'no end to the step')
  } catch (error) {
    counts['driver faults']++
    events.push(`${elapsed()}: driver fault in ${what}: ${(error as Error).message?.split('\n')[0]}`)
    return undefined
  }
}

/**
 * The page's own record of what it received: a destination beside the plugin that writes each
 * Order Completed its `track` is called with. analytics-next calls the destinations one after
 * another in the same task, the plugin first (it was registered first), so a recorded order is one
 * the plugin was handed too. Evaluated in the page, as a string: the same for every driver.
 */
const RECORDER = `{
  name: 'Soak record',
  type: 'destination',
  version: '1.0.0',
  isLoaded: () => true,
  load: () => Promise.resolve(),
  track: (ctx) => {
    const { event, messageId, properties } = ctx.event
    if (event === 'Order Completed')
      localStorage.setItem(${JSON.stringify(RECORD_PREFIX)} + properties.order_id + ':' + messageId, String(Date.now()))
    return ctx
  },
}`

/** Opens the shop on a tab; throws if the page didn't load or the plugin didn't start on it. */
async function startShop(tab: Tab): Promise<void> {
  await tab.goto(`${site.url}/e2e/pages/harness.html`)
  await tab.run(
    `window.start({ settings: ${JSON.stringify(settings)} }).then(() => window.analytics.register(${RECORDER}))`,
  )
  births.push(Date.now())
}
const openShop = (tab: Tab) => step('opening the shop', () => startShop(tab).then(() => true))

/** Order ids as the pages recorded them: one entry per `track` a page received. */
async function readRecord(tab: Tab): Promise<string[]> {
  const keys = (await tab.run(`Object.keys(localStorage)`)) as string[]
  return keys
    .filter((key) => key.startsWith(RECORD_PREFIX))
    .map((key) => key.slice(RECORD_PREFIX.length).split(':')[0]!)
}

/** Tracks one order; the driver's step resolves once analytics-next resolved `track`. */
async function track(tab: Tab, id: string) {
  const order = { order_id: id, email: `${id}@example.com`, products: [{ sku: `sku-${id}`, name: 'Soak product' }] }
  await step(`track ${id}`, () =>
    tab.run(`window.analytics.track('Order Completed', ${JSON.stringify(order)}).then(() => true)`),
  )
}

/** A run that can't measure what its goals are about: it fails, with the reason. */
class NotMeasured extends Error {}

try {
  session = await (engine === 'webkit' ? webkitSession() : playwrightSession(engine))
  const tabs: Tab[] = [await session.newTab()]
  // The first shop page must start: if it can't (the page doesn't load, trustpilot() throws), every
  // later step would only count the same fault, and nothing would be measured.
  try {
    await withTimeout(startShop(tabs[0]!), STEP_MS, 'the first shop page did not start in time')
  } catch (error) {
    throw new NotMeasured(`the first shop page did not start: ${(error as Error).message}`)
  }

  while (planned.length < ORDERS && elapsed() < TRAFFIC_MS) {
    standIn.latencyMs = Math.floor(Math.random() * 60)
    const fault = pick<number | 'reset' | 'hang' | undefined>([
      [undefined, 70],
      [500, 15],
      ['reset', 10],
      ['hang', 5],
    ])
    if (fault !== undefined) {
      standIn.faults.push(fault)
      counts[fault === 'reset' ? 'resets' : fault === 'hang' ? 'hangs' : '5xx']++
    }
    const tab = tabs[Math.floor(Math.random() * tabs.length)]!
    const id = `soak-${RUN}-${planned.length}`
    planned.push(id)
    events.push(`${elapsed()}: track ${id} in tab ${tabs.indexOf(tab)}`)
    await track(tab, id)
    if (Math.random() < 0.05) {
      counts['tracked twice']++
      await track(tabs[Math.floor(Math.random() * tabs.length)]!, id)
    }
    // The buyer stays on the thank-you page for a moment (0–600 ms), then maybe leaves.
    await new Promise((r) => setTimeout(r, Math.random() * 600))
    const action = pick([
      ['stay', 65],
      ['navigate', 15],
      ['reload', 10],
      ['open tab', 5],
      ['close tab', 5],
    ] as const)
    if (action !== 'stay') events.push(`${elapsed()}: ${action} tab ${tabs.indexOf(tab)}`)
    if (action === 'navigate' || action === 'reload' || (action === 'close tab' && tabs.length > 1))
      deaths.push(Date.now())
    if (action === 'navigate') {
      counts.navigations++
      await step('navigating away', () => tab.goto(`${site.url}/e2e/pages/elsewhere.html`))
      await openShop(tab)
    } else if (action === 'reload') {
      counts.reloads++
      await step('reloading', () => tab.reload())
      await openShop(tab)
    } else if (action === 'open tab' && tabs.length < MAX_TABS) {
      counts['tabs opened']++
      const opened = await step('opening a tab', () => session!.newTab())
      if (opened) {
        await openShop(opened)
        tabs.push(opened)
      }
    } else if (action === 'close tab' && tabs.length > 1) {
      counts['tabs closed']++
      tabs.splice(tabs.indexOf(tab), 1)
      await step('closing a tab', () => tab.close())
    }
  }

  // Drain: faults stop, a tab stays open, pending invitations go out on their own timers. The tab is
  // the last one, opened again so it surely has the plugin (that sends its old page away too).
  standIn.faults.length = 0
  standIn.latencyMs = 0
  const drainTab = tabs.at(-1)!
  deaths.push(Date.now())
  await openShop(drainTab)
  const created = () =>
    new Set(standIn.requests.filter((r) => r.status === 201 || r.status === 200).map((r) => String(r.body.referenceId)))
  // Waiting for what the pages received; if the record can't be read now, for every planned order.
  const toDeliver = (await readRecord(drainTab).catch(() => undefined)) ?? planned
  while (toDeliver.some((id) => !created().has(id)) && elapsed() < BUDGET_MS)
    await new Promise((r) => setTimeout(r, 250))

  // The verdict reads the pages' record once more, now that every page is done with its `track`.
  let record: string[]
  try {
    record = await withTimeout(readRecord(drainTab), STEP_MS, 'no answer')
  } catch (error) {
    throw new NotMeasured(`the pages' record could not be read: ${(error as Error).message}`)
  }
  const received = new Set(record)
  const receivedTwice = new Set(record.filter((id, i) => record.indexOf(id) !== i)).size
  const verdict = judgeSoak({
    planned,
    received,
    requests: standIn.requests,
    deaths,
    births,
    hangMs: standIn.hangMs,
    steps: counts['driver steps'],
    faults: counts['driver faults'],
  })
  const extra = verdict.duplicates.flatMap((d) => d.extra)
  const byCause = (cause: string | undefined) => extra.filter((e) => e.cause === cause).length
  const pct = (n: number) => `${((100 * n) / Math.max(1, received.size)).toFixed(1)}%`
  const delivered = [...received].filter((id) => created().has(id)).length
  console.log(
    `soak (${engine}): ${planned.length} of ${ORDERS} orders planned in ${(elapsed() / 1000).toFixed(1)} s, ${received.size} received by a page (${receivedTwice} of them twice or more), ${tabs.length} tab(s) open at the end`,
  )
  console.log(`  requests to the stand-in: ${standIn.requests.length}`)
  console.log(
    `  faults: ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  )
  console.log(
    `  delivered ${delivered}/${received.size} (${pct(delivered)})  lost ${verdict.lost.length}  duplicated ${verdict.duplicates.length} (${pct(verdict.duplicates.length)})` +
      (verdict.notReceived.length ? `; ${verdict.notReceived.length} planned never reached a page` : '') +
      (verdict.createdUnrecorded.length
        ? `; ${verdict.createdUnrecorded.length} created with no page's record of them`
        : ''),
  )
  console.log(
    `  page deaths: ${deaths.length}; of ${extra.length} extra creation(s), ${byCause('page death')} followed a page sent away between Trustpilot creating the invitation and the page hearing it, ${byCause('browser resend')} were the browser resending a dropped request, ${byCause(undefined)} unexplained`,
  )
  console.log('  goals:')
  for (const goal of verdict.goals) console.log(`    ${goal.met ? 'met   ' : 'MISSED'} ${goal.name}: ${goal.result}`)
  if (verdict.lost.length) console.log(`  lost: ${verdict.lost.join(' ')}`)
  if (process.env.SOAK_DEBUG) {
    for (const { referenceId } of verdict.duplicates) {
      const trail = standIn.requests.filter((r) => r.body.referenceId === referenceId)
      console.log(referenceId, trail.map((r) => `${r.at - started}:${r.status}`).join(' '))
    }
    console.log(events.join('\n'))
  }
  process.exitCode = verdict.goals.every((goal) => goal.met) ? 0 : 1
} catch (error) {
  if (!(error instanceof NotMeasured)) throw error
  console.error(`soak (${engine}): not measured: ${error.message}`)
  process.exitCode = 1
} finally {
  await session?.close().catch(() => {})
  await standIn.close()
  await site.close()
}
