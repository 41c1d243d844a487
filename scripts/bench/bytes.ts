/**
 * Measure 5 of `npm run bench`: the bytes of the plugin a shop's page downloads, on a page that sends
 * no order and on the page that sends one. The plugin is split so that the many pages without an order
 * (every page of a shop registers it) load only the small entry, dist/index.js with the files it
 * imports statically (read from the built files, see `entryFiles`), and only an order (or a checkout
 * event, or work left in storage) fetches the delivery module, dist/delivery.js.
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
 *
 * What is counted is whatever the browser fetched, never a list of file names: a row that recorded no
 * byte at all is "not measured" (the recording is broken), not a small page.
 */

import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import type { Page } from '@playwright/test'
import * as esbuild from 'esbuild'
import { type Env, type Measured, notMeasured, openShop, orderProperties, type Row, sleep, waitFor } from './shared'

/** How long a page is left alone after its events, so a fetch the plugin starts late is counted too. */
const SETTLE_MS = 500
/** Events of the page without an order: none is an Order Completed or one of the checkout events. */
const NO_ORDER_EVENTS = ['Products Searched', 'Product List Viewed', 'Product Viewed', 'Product Added', 'Cart Viewed']
/** The file every page imports; with its static imports, all a page without an order may fetch. */
const ENTRY = 'dist/index.js'
/**
 * Goals, in gzipped bytes (level 9): the CI budgets of package.json's size-limit for the same files,
 * so the bench and `npm run size` can't drift apart. The page without an order must also fetch the
 * entry's files and nothing else.
 */
const GOAL = budgetsOf(['dist/index.js'], ['dist/index.js', 'dist/delivery.js'])

/** size-limit's limit (in kB of 1000 B) for exactly these files, for each list. */
function budgetsOf(noOrder: string[], order: string[]) {
  const entries: Array<{ path: string | string[]; limit: string }> = JSON.parse(readFileSync('package.json', 'utf8'))[
    'size-limit'
  ]
  const limit = (files: string[]) => {
    const entry = entries.find(({ path }) => [path].flat().join() === files.join())
    if (!entry) throw new Error(`package.json's size-limit has no budget for ${files.join(' + ')}`)
    return Number.parseFloat(entry.limit) * 1000
  }
  return { noOrder: limit(noOrder), order: limit(order) }
}

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

/**
 * The entry and every file it imports statically, transitively (not its `import()`s): what the
 * browser must fetch before the entry runs. esbuild parses the built files and says which import is
 * which, so a file the build adds is found without naming it here.
 */
async function entryFiles(): Promise<string[]> {
  const { metafile } = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    splitting: true,
    format: 'esm',
    write: false,
    metafile: true,
    outdir: 'unused',
    logLevel: 'silent',
  })
  const files = new Set([ENTRY])
  for (const file of files)
    for (const imported of metafile.inputs[file]?.imports ?? [])
      if (imported.kind === 'import-statement') files.add(imported.path)
  return [...files].sort()
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

  const entry = await entryFiles()
  const fetchedNoOrder = noOrder.map((f) => f.file).sort()
  const onlyEntry = fetchedNoOrder.join() === entry.join()
  const noOrderMetric = 'plugin bytes on a page with no order'
  const noOrderGoal = `only the entry (${entry.join(' + ')}), <= ${kB(GOAL.noOrder)} gzip`
  const orderMetric = 'plugin bytes on an order page'
  const orderGoal = `<= ${kB(GOAL.order)} gzip`
  /** A row judged by `met`, or not measured when the page's recording saw no byte of the plugin. */
  const row = (metric: string, goal: string, files: Fetched[], met: boolean): Row =>
    total(files, 'raw') > 0
      ? { metric, result: summary(files), goal, met }
      : notMeasured(metric, goal, 'no byte of a file under /dist/ recorded')
  return {
    rows: [
      row(noOrderMetric, noOrderGoal, noOrder, onlyEntry && total(noOrder, 'gzip') <= GOAL.noOrder),
      row(orderMetric, orderGoal, order, total(order, 'gzip') <= GOAL.order),
    ],
    note: `5: responses for URLs under /dist/ recorded by the browser; gzip = level 9 of each body in Node (as size-limit), kB = 1000 B. No order (${NO_ORDER_EVENTS.length} tracks of ${NO_ORDER_EVENTS.join(', ')}, a page(), ${SETTLE_MS} ms): ${detail(noOrder) || 'nothing'}. Order page (one Order Completed, delivered, ${SETTLE_MS} ms): ${detail(order) || 'nothing'}; the bench's settings use the default transport "api", so script-transport.js (transport "script" only) is not expected.`,
  }
}
