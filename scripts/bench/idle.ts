/**
 * Measure 4 of `npm run bench`: timers and requests the plugin adds to a page that sends no order: a
 * shop that registers the plugin site-wide must not pay for it on pages without orders.
 *
 * Counts calls of the timer and request APIs from before any script of the page runs, in a page with
 * the plugin and one without, and requests reaching the stand-in (by the server's record and by the
 * browser's, which also sees CORS preflights). Afterwards, as a check that the counters do see the
 * plugin, one order is tracked on the plugin's page and counted the same way: a counter that counts
 * nothing for that order would count nothing for the plugin on an idle page either, so its row is
 * then "not measured", not a goal met.
 */
import { type Env, type Measured, notMeasured, openShop, orderProperties, type Row, type Via, waitFor } from './shared'

/** Non-order events tracked, then how long the page is left alone before counting. */
const IDLE = { events: 20, settleMs: 500 }

export async function measureIdleCost(env: Env): Promise<Measured> {
  type Counts = { timers: number; requests: number }
  const raw = {} as Record<Via, Counts>
  const atStart = {} as Record<Via, Counts>
  const network = {} as Record<Via, number>
  const standInOrigin = new URL(env.standIn.url).origin
  let toStandIn = 0
  let control: Counts = { timers: 0, requests: 0 }
  const recordedBefore = env.standIn.requests.length
  let recorded = 0
  for (const via of ['module', 'none'] as const) {
    let phase = false
    let counting = true
    let seen = 0
    const { context, page } = await openShop(env, via, async (page) => {
      page.on('request', (request) => {
        if (phase) seen++
        if (counting && new URL(request.url()).origin === standInOrigin) toStandIn++
      })
      await page.addInitScript(() => {
        const w = window as any
        const counts = { timers: 0, requests: 0 }
        w.__benchCounts = counts
        const { setTimeout: timeout, setInterval: interval, fetch: get } = w
        const open = XMLHttpRequest.prototype.open
        const beacon = navigator.sendBeacon
        w.setTimeout = (...args: unknown[]) => {
          counts.timers++
          return timeout.apply(w, args)
        }
        w.setInterval = (...args: unknown[]) => {
          counts.timers++
          return interval.apply(w, args)
        }
        w.fetch = (...args: unknown[]) => {
          counts.requests++
          return get.apply(w, args)
        }
        XMLHttpRequest.prototype.open = function (this: XMLHttpRequest, ...args: unknown[]) {
          counts.requests++
          return (open as (...a: unknown[]) => void).apply(this, args)
        } as typeof open
        if (beacon) {
          navigator.sendBeacon = (...args: Parameters<Navigator['sendBeacon']>) => {
            counts.requests++
            return beacon.apply(navigator, args)
          }
        }
      })
    })
    const read = () => page.evaluate(() => ({ ...(window as any).__benchCounts }) as Counts)
    atStart[via] = await read()
    phase = true
    await page.evaluate(async (events) => {
      const analytics = (window as any).analytics
      for (let i = 0; i < events; i++) await analytics.track('Product Viewed', { product_id: `p-${i}` })
      await analytics.page()
    }, IDLE.events)
    await page.waitForTimeout(IDLE.settleMs)
    raw[via] = await read()
    phase = false
    counting = false
    network[via] = seen
    if (via === 'module') {
      recorded = env.standIn.requests.length - recordedBefore
      const id = `idle-control-${Date.now()}`
      await page.evaluate(
        (properties) => (window as any).analytics.track('Order Completed', properties),
        orderProperties(id, 2),
      )
      await waitFor(`the delivery of order ${id}`, () => (env.standIn.created.has(id) ? true : undefined))
      const after = await read()
      control = { timers: after.timers - raw.module.timers, requests: after.requests - raw.module.requests }
    }
    await context.close()
  }
  const diff = (key: keyof Counts) => {
    const start = atStart.module[key] - atStart.none[key]
    const total = raw.module[key] - raw.none[key]
    return { atStart: start, phase: total - start, total }
  }
  const timers = diff('timers')
  const requests = diff('requests')
  const standInRequests = Math.max(recorded, toStandIn)

  const signed = (n: number) => (n > 0 ? `+${n}` : String(n))
  /** The counter's row, unless the control order showed that counter blind to the plugin. */
  const counted = (key: keyof Counts, metric: string, change: ReturnType<typeof diff>): Row =>
    control[key] > 0
      ? {
          metric,
          result: `${signed(change.total)} (${signed(change.atStart)} + ${signed(change.phase)})`,
          goal: '0',
          met: change.total <= 0,
        }
      : notMeasured(metric, '0', `the control order counted no ${key}`)
  return {
    rows: [
      counted('timers', 'timers added by plugin, no order (load + events)', timers),
      counted('requests', 'requests added by plugin, no order (load + events)', requests),
      {
        metric: 'requests reaching the stand-in, no order',
        result: String(standInRequests),
        goal: '0',
        met: standInRequests === 0,
      },
    ],
    note: `4: counted by wrapping setTimeout/setInterval (timers) and fetch/XMLHttpRequest.open/sendBeacon (requests); plugin page minus plain page, "at start()" + "${IDLE.events} tracks, a page() and ${IDLE.settleMs} ms". Absolute counts with/without: timers ${raw.module.timers}/${raw.none.timers}, requests ${raw.module.requests}/${raw.none.requests}; browser-level requests after start() with/without: ${network.module}/${network.none}. Check: one order on the plugin's page afterwards counted +${control.timers} timers, +${control.requests} requests (a counter at 0 there misses the plugin: its row is not measured).`,
  }
}
