/**
 * What the measures of `npm run bench` (scripts/bench.ts) share: the environment the runner starts,
 * opening a shop's page on the harness, statistics, the order fixtures and the table of results.
 */
import type { Browser, Page } from '@playwright/test'
import type { StandIn } from '../../test/support/stand-in'
import type { StaticServer } from '../../test/support/static-server'

export const HARNESS = '/e2e/pages/harness.html'

/** The harness's `via`: the plugin registered as a module, or no plugin at all. */
export type Via = 'module' | 'none'

/**
 * One line of the table; `met` is left out for figures that have no goal. NOT_MEASURED marks a row
 * whose measurement saw nothing (no sample, no byte, a counter shown blind): it says nothing about
 * its goal, and it makes the bench exit 1.
 */
export type Row = { metric: string; result: string; goal: string; met?: boolean | typeof NOT_MEASURED }
export const NOT_MEASURED = 'not measured'
/** A row whose measurement saw nothing, with the reason in its result. */
export const notMeasured = (metric: string, goal: string, why: string): Row => ({
  metric,
  result: `${NOT_MEASURED}: ${why}`,
  goal,
  met: NOT_MEASURED,
})

/** What a measure returns: its rows of the table, and its note printed under the table. */
export type Measured = { rows: Row[]; note: string }

/** Started once by the runner and handed to every measure. */
export interface Env {
  browser: Browser
  site: StaticServer
  standIn: StandIn
  settings: { apiKey: string; endpoint: string }
}

/** A page of its own browser context (own localStorage), on the harness, analytics-next started. */
export async function openShop(env: Env, via: Via, before?: (page: Page) => Promise<void>) {
  const context = await env.browser.newContext()
  const page = await context.newPage()
  await before?.(page)
  await page.goto(`${env.site.url}${HARNESS}`)
  await page.evaluate((options) => (window as any).start(options), { via, settings: env.settings })
  return { context, page }
}

export const median = (values: number[]) => quantile(values, 0.5)
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (!sorted.length) return Number.NaN
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (at - low)
}
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `find` returns something, for at most `timeoutMs`; throws naming `what` otherwise. */
export async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const found = find()
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(1)
  }
}

/** A product as Segment's Order Completed spec has it, with every field the mapping reads. */
const product = (i: number) => ({
  product_id: `507f1f77bcf86cd7994390${String(i).padStart(2, '0')}`,
  sku: `45790-${i}`,
  name: `Bench product ${i}`,
  brand: 'Bench brand',
  category: 'Games',
  variant: 'Standard',
  price: 19 + i,
  quantity: 1 + (i % 3),
  url: `https://www.example.com/product/${i}`,
  image_url: `https://www.example.com/product/${i}.jpg`,
  gtin: `0000000000${String(i).padStart(3, '0')}`,
  mpn: `MPN-${i}`,
})

export const orderProperties = (orderId: string, products: number) => ({
  order_id: orderId,
  email: 'buyer@example.com',
  first_name: 'Bench',
  last_name: 'Buyer',
  total: 1234.5,
  currency: 'EUR',
  products: Array.from({ length: products }, (_, i) => product(i)),
})

/** A duration for the table and the notes. */
export const ms = (n: number, digits: number) => `${n.toFixed(digits)} ms`

export function printTable(rows: Row[]) {
  const verdict = (met: Row['met']) =>
    met === undefined ? '-' : met === NOT_MEASURED ? NOT_MEASURED : met ? 'yes' : 'NO'
  const cells = rows.map((r) => [r.metric, r.result, r.goal || '-', verdict(r.met)])
  const header = ['metric', 'result', 'goal', 'met?']
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)))
  const line = (c: string[]) =>
    c
      .map((s, i) => s.padEnd(widths[i] as number))
      .join(' | ')
      .trimEnd()
  console.log()
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
  for (const c of cells) console.log(line(c))
}
