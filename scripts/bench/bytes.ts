/**
 * Measure 5 of `npm run bench`: the bytes of the plugin a shop's page downloads, on a page that sends
 * no order and on the page that sends one. The plugin is split so that the many pages without an order
 * (every page of a shop registers it) load only the small entry, dist/index.js, and only an order (or
 * a checkout event, or work left in storage) fetches the delivery module, dist/delivery.js.
 *
 * How: the harness is opened as a shop opens it (`via: 'module'`, which imports /dist/index.js), and
 * every response the browser gets for one of the plugin's files is recorded: URLs under /dist/ of the
 * static server (index.js, delivery.js, script-transport.js, trustpilot.global.js, and any module a
 * later build adds there; analytics-next is served from elsewhere and not counted). First page: a few events that are not orders nor checkout
 * events and a page(), then SETTLE_MS left alone, then count. Second page, fresh (own context and
 * storage, nothing cached: the server says no-store): one Order Completed, delivered to the stand-in,
 * then SETTLE_MS, then count.
 *
 * Each body is counted raw (as served: the loopback server does not compress) and gzip-equivalent:
 * gzip level 9 of the body in Node, as size-limit measures (its file plugin), with kB = 1000 bytes as
 * size-limit's limits read. A CDN's own compression (gzip levels, brotli) will differ somewhat; the
 * level-9 figure is comparable with `npm run size` and the goals below.
 */
import { gzipSync } from 'node:zlib'
import type { Page } from '@playwright/test'
import { type Env, type Measured, openShop, orderProperties, sleep, waitFor } from './shared'

/** How long a page is left alone after its events, so a fetch the plugin starts late is counted too. */
const SETTLE_MS = 500
/** Events of the page without an order: none is an Order Completed or one of the checkout events. */
const NO_ORDER_EVENTS = ['Products Searched', 'Product List Viewed', 'Product Viewed', 'Product Added', 'Cart Viewed']
/** Goals, in gzipped bytes (level 9). The page without an order must fetch dist/index.js and nothing else. */
const GOAL = { noOrder: 2_500, order: 6_000 }

type Fetched = { file: string; raw: number; gzip: number }

/** Opens the harness recording every response for a file under /dist/; `fetched()` waits for their bodies. */
async function openRecorded(env: Env) {
  const bodies: Array<Promise<Fetched>> = []
  const shop = await openShop(env, 'module', async (page: Page) => {
    page.on('response', (response) => {
      const url = new URL(response.url())
      if (url.origin !== env.site.url || !url.pathname.startsWith('/dist/')) return
      bodies.push(
        response.body().then((body) => ({
          file: url.pathname.slice(1),
          raw: body.length,
          gzip: gzipSync(body, { level: 9 }).length,
        })),
      )
    })
  })
  return { ...shop, fetched: () => Promise.all(bodies) }
}

const total = (files: Fetched[], key: 'raw' | 'gzip') => files.reduce((sum, f) => sum + f[key], 0)
const kB = (bytes: number) => `${(bytes / 1000).toFixed(2)} kB`
const summary = (files: Fetched[]) =>
  `${kB(total(files, 'gzip'))} gzip, ${kB(total(files, 'raw'))} raw: ${files.map((f) => f.file).join(' + ') || 'nothing'}`
const detail = (files: Fetched[]) => files.map((f) => `${f.file} ${f.raw} B raw / ${f.gzip} B gzip`).join(', ')

export async function measureBytes(env: Env): Promise<Measured> {
  const quiet = await openRecorded(env)
  await quiet.page.evaluate(async (events) => {
    const analytics = (window as any).analytics
    for (const event of events) await analytics.track(event, { product_id: 'p-1', name: 'Bench product', price: 19 })
    await analytics.page()
  }, NO_ORDER_EVENTS)
  await sleep(SETTLE_MS)
  const noOrder = await quiet.fetched()
  await quiet.context.close()

  const ordering = await openRecorded(env)
  const id = `bytes-${Date.now()}`
  await ordering.page.evaluate(
    (properties) => (window as any).analytics.track('Order Completed', properties),
    orderProperties(id, 2),
  )
  await waitFor(`the delivery of order ${id}`, () => (env.standIn.created.has(id) ? true : undefined))
  await sleep(SETTLE_MS)
  const order = await ordering.fetched()
  await ordering.context.close()

  const onlyEntry = noOrder.length === 1 && noOrder[0]?.file === 'dist/index.js'
  return {
    rows: [
      {
        metric: 'plugin bytes on a page with no order',
        result: summary(noOrder),
        goal: `only dist/index.js, <= ${kB(GOAL.noOrder)} gzip`,
        met: onlyEntry && total(noOrder, 'gzip') <= GOAL.noOrder,
      },
      {
        metric: 'plugin bytes on an order page',
        result: summary(order),
        goal: `<= ${kB(GOAL.order)} gzip`,
        met: total(order, 'gzip') <= GOAL.order,
      },
    ],
    note: `5: responses for URLs under /dist/ recorded by the browser; gzip = level 9 of each body in Node (as size-limit), kB = 1000 B. No order (${NO_ORDER_EVENTS.length} tracks of ${NO_ORDER_EVENTS.join(', ')}, a page(), ${SETTLE_MS} ms): ${detail(noOrder) || 'nothing'}. Order page (one Order Completed, delivered, ${SETTLE_MS} ms): ${detail(order)}; the bench's settings use the default transport "api", so script-transport.js (transport "script" only) is not expected.`,
  }
}
