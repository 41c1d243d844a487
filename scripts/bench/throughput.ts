/**
 * Measure 1 of `npm run bench`: throughput of `analytics.track` for events that are not orders, with
 * the plugin registered (harness `via: 'module'`) and without it (`via: 'none'`), in two pages of
 * separate browser contexts. Every other event of a shop goes through the plugin's `track`, so this is
 * the cost a shop pays all the time. The two pages alternate over several rounds (ABBA order) and each
 * configuration's median events/s is kept, so drift of the machine hits both alike.
 *
 * Each call is awaited, as a shop's code awaits it, and each starts from a fresh task (a
 * MessageChannel hop): analytics-next hands an event to its destinations in a setTimeout(0), and a
 * chain of awaited calls would otherwise run every call from the previous call's timer, where the
 * browser clamps nested timers to 4 ms; the figure would then measure that clamp, not the work. A
 * shop's events come from event handlers, i.e. fresh tasks, too.
 */
import type { Page } from '@playwright/test'
import { type Env, type Measured, median, openShop, type Via } from './shared'

/**
 * Untimed warm-up calls once per page, then per round and configuration a few untimed calls (the
 * page was idle while the other one ran) and the timed ones. Many short rounds rather than a few long
 * ones: a burst of load from elsewhere on the machine then spoils one short round, not a median.
 */
const THROUGHPUT = { pageWarmup: 500, rounds: 24, warmup: 30, timed: 350 }

export async function measureThroughput(env: Env): Promise<Measured> {
  const pages = {} as Record<Via, Page>
  const contexts = []
  for (const via of ['module', 'none'] as const) {
    const { context, page } = await openShop(env, via)
    contexts.push(context)
    pages[via] = page
  }
  const run = (page: Page, warmup: number, timed: number) =>
    page.evaluate(
      async ({ warmup, timed }) => {
        const analytics = (window as any).analytics
        const channel = new MessageChannel()
        let wake: ((value: unknown) => void) | undefined
        channel.port1.onmessage = () => wake?.(undefined)
        let started = 0
        for (let i = 0; i < warmup + timed; i++) {
          await new Promise((resolve) => {
            wake = resolve
            channel.port2.postMessage(0)
          })
          if (i === warmup) started = performance.now()
          await analytics.track('Product Viewed', { product_id: `p-${i}`, name: 'Bench product', price: 19 })
        }
        channel.port1.close()
        return timed / ((performance.now() - started) / 1000)
      },
      { warmup, timed },
    )

  const rates: Record<Via, number[]> = { module: [], none: [] }
  const roundRatios: number[] = []
  for (const via of ['module', 'none'] as const) await run(pages[via], THROUGHPUT.pageWarmup, 1)
  for (let round = 0; round < THROUGHPUT.rounds; round++) {
    // ABBA: module, none, none, module, …, so a steady drift of the machine favours neither.
    const order: Via[] = round % 2 === 0 ? ['module', 'none'] : ['none', 'module']
    for (const via of order) rates[via].push(await run(pages[via], THROUGHPUT.warmup, THROUGHPUT.timed))
    roundRatios.push((rates.module[round] as number) / (rates.none[round] as number))
  }
  for (const context of contexts) await context.close()
  const withPlugin = median(rates.module)
  const without = median(rates.none)
  const ratio = withPlugin / without
  const pairedRatio = median(roundRatios)

  return {
    rows: [
      { metric: 'track, non-order events: with plugin', result: `${withPlugin.toFixed(0)} events/s`, goal: '' },
      { metric: 'track, non-order events: without plugin', result: `${without.toFixed(0)} events/s`, goal: '' },
      { metric: 'track throughput ratio with/without', result: ratio.toFixed(3), goal: '>= 0.97', met: ratio >= 0.97 },
    ],
    note: `1: per configuration ${THROUGHPUT.rounds} alternating rounds of ${THROUGHPUT.timed} sequential awaited tracks (${THROUGHPUT.pageWarmup} warm-up per page, ${THROUGHPUT.warmup} per round), each started from a fresh task; ratio of the median events/s. Per-round ratios: ${roundRatios.map((r) => r.toFixed(3)).join(' ')} (median ${pairedRatio.toFixed(3)}).`,
  }
}
