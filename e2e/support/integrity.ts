/**
 * Pages under `Integrity-Policy: blocked-destinations=(script)` for the integrity tests
 * (e2e/integrity.spec.ts, e2e/webkitgtk/integrity.spec.ts): a shop's page that loads the built dist/
 * from a CDN on another origin with the snippet the package's own command prints
 * (dist/integrity-snippet.js, never a hash written here), and a CDN that can change one byte of a
 * file it serves. Every script of the page carries integrity, its own included, or the policy would
 * block it: only the inline scripts, which fetch nothing, go without.
 *
 * And the tests' flows, one for every engine: each suite drives its own page through an
 * IntegrityPage, and checks beside a flow what only its driver can see (Playwright's console and
 * network events; WebDriver has none).
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { promisify } from 'node:util'
import { expect } from '@playwright/test'
import { integrityOf } from '../../esbuild.config.mjs'
import { API_KEY, SEED_PROPERTIES } from '../../test/support/fixtures'
import type { StandIn } from '../../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../../test/support/static-server'
import { type Outcome, remotePluginCdnSettings } from './fixtures'

export const INTEGRITY_POLICY = 'blocked-destinations=(script)'
/** The command a shop runs (package.json's bin): the one source of every hash the pages carry. */
const COMMAND = 'dist/integrity-snippet.js'
/** The placeholder the command prints where the shop's settings go. */
const PLACEHOLDER = "{ apiKey: '<TRUSTPILOT_INTEGRATION_KEY>' }"

export type Route = 'module' | 'classic'

/** The snippet the package's command prints for `base` (the URL of dist/) and `route`. */
export async function printedSnippet(base: string, route: Route, nonce?: string): Promise<string> {
  const args = [COMMAND, '--base', base, '--route', route, ...(nonce ? ['--nonce', nonce] : [])]
  const { stdout } = await promisify(execFile)(process.execPath, args)
  return stdout
}

/** The snippet with the shop's settings in place of the placeholder, as a shop fills in its key. */
export function withSettings(snippet: string, settings: Record<string, unknown>): string {
  if (snippet.split(PLACEHOLDER).length !== 2) throw new Error(`the snippet has no single ${PLACEHOLDER}:\n${snippet}`)
  return snippet.replace(PLACEHOLDER, JSON.stringify(settings))
}

/** The snippet with only the import map's entries whose URL `keep` says: a shop that pinned less. */
export function keepingEntries(snippet: string, keep: (url: string) => boolean): string {
  const match = /(<script type="importmap">\n)([\s\S]*?)(\n<\/script>)/.exec(snippet)
  if (!match) throw new Error(`the snippet has no import map:\n${snippet}`)
  const map = JSON.parse(match[2] as string) as { integrity: Record<string, string> }
  map.integrity = Object.fromEntries(Object.entries(map.integrity).filter(([url]) => keep(url)))
  return snippet.replace(match[0], `${match[1]}${JSON.stringify(map, null, 2)}${match[3]}`)
}

/** The snippet's script tag of the classic route, marked as analytics-next's loader marks one it loaded. */
export function asLoadedRemotePlugin(snippet: string): string {
  const tag = /<script src="[^"]+" integrity="[^"]+" crossorigin="anonymous"><\/script>/.exec(snippet)?.[0]
  if (!tag) throw new Error(`the snippet has no script tag:\n${snippet}`)
  // Only the import map and the tag: analytics-next creates the plugin from its remotePlugins entry.
  const map = /<script type="importmap">[\s\S]*?<\/script>/.exec(snippet)?.[0] ?? ''
  return `${map}\n${tag.replace('></script>', ' status="loaded"></script>')}\n`
}

const sri = (path: string) => integrityOf(readFileSync(path))

/** A script of the shop's own, pinned: its hash is the shop's business, computed here from the file. */
const ownScript = (path: string, open: string) =>
  `${open} src="/${path}" integrity="${sri(path)}" crossorigin="anonymous"></script>`

/**
 * What the page itself sees of blocked scripts, from its first line: CSP violations, the Reporting
 * API's reports (Chromium reports `integrity-violation`; Firefox and WebKitGTK have no
 * ReportingObserver for it), `error` events of <script> elements, and rejections nobody handled.
 */
const WATCH = `window.integrityWatch = { violations: [], reports: [], scriptErrors: [], rejections: [] }
document.addEventListener('securitypolicyviolation', (e) =>
  integrityWatch.violations.push(e.violatedDirective + ' ' + e.blockedURI))
if (typeof ReportingObserver === 'function')
  new ReportingObserver((reports) => {
    for (const r of reports) integrityWatch.reports.push(r.type + ' ' + (r.body && (r.body.blockedURL || r.body.blockedURI)))
  }, { buffered: true }).observe()
addEventListener('error', (e) => {
  if (e.target instanceof HTMLScriptElement) integrityWatch.scriptErrors.push(e.target.src || '(inline)')
}, true)
addEventListener('unhandledrejection', (e) => integrityWatch.rejections.push(String(e.reason)))`

/**
 * The page's own analytics-next as `analytics`, the global Segment's snippet makes and the plugin's
 * snippet registers on. Each registration is kept in `registrations`, so a test can wait for it
 * before its first track.
 */
const ANALYTICS = `window.outcomes = []
window.registrations = []
window.analytics = new AnalyticsBrowser()
const register = analytics.register.bind(analytics)
analytics.register = (...plugins) => {
  const done = register(...plugins)
  registrations.push(done)
  return done
}
analytics.on('trustpilot', (o) =>
  outcomes.push({ status: o.status, referenceId: o.referenceId, reason: o.reason, error: o.error && o.error.name }))`

/**
 * Loads it, offline (Segment's settings given, Segment.io off): after the plugin's snippet, as a
 * remote plugin's script the page pinned must be in the page before analytics-next looks for it.
 */
const load = (cdnSettings: Record<string, unknown>) => `analytics.load(
  { writeKey: 'test-write-key', cdnSettings: ${JSON.stringify({ integrations: {}, metrics: { sampleRate: 0 }, ...cdnSettings })} },
  { integrations: { 'Segment.io': false } },
)`

/**
 * The shop's page: its own scripts pinned, its analytics, then the plugin's snippet. With a `nonce`,
 * each of its own scripts carries it, for a page served with a nonce-based CSP.
 */
export function shopPage({
  snippet,
  cdnSettings = {},
  nonce,
}: {
  snippet: string
  cdnSettings?: Record<string, unknown>
  nonce?: string
}) {
  const open = nonce ? `<script nonce="${nonce}"` : '<script'
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>Checkout under Integrity-Policy</title>
${open}>
${WATCH}
</script>
${ownScript('e2e/pages/console-capture.js', open)}
${ownScript('e2e/.build/analytics-next.js', open)}
${open}>
${ANALYTICS}
</script>
${snippet}
${open}>
${load(cdnSettings)}
</script>
</head>
<body><p>A checkout page whose every script is pinned.</p></body>
</html>
`
}

export interface IntegritySite {
  /** The shop's origin: its pages (each served with the Integrity-Policy header) and its own scripts. */
  shop: string
  /** The CDN, on another origin, serving the repository with CORS as npm CDNs do. */
  cdn: string
  /** dist/'s URL on the CDN, what `--base` names. */
  base: string
  /** Paths (e.g. '/dist/delivery.js') the CDN serves with one byte changed; their hash unchanged. */
  tampered: Set<string>
  /** Tampered answers the CDN gave, by path. */
  tamperedServed: string[]
  /** Every path asked of the CDN, in order. */
  cdnRequests: string[]
  /** Every path (and query) asked of the shop's origin, in order. */
  shopRequests: string[]
  /** Serves `html` as /integrity/<name>.html on the shop's origin (`headers` beside the policy) and returns its URL. */
  page(name: string, html: string, headers?: Record<string, string>): string
  close(): Promise<void>
}

/**
 * One byte changed: the case of the file's last letter (in its `//# sourceMappingURL` comment, for
 * dist/'s files), so the code would run exactly as before: only its integrity can stop it.
 */
export function tamper(bytes: Buffer): Buffer {
  const changed = Buffer.from(bytes)
  for (let i = changed.length - 1; i >= 0; i--) {
    const byte = changed[i] as number
    if ((byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a)) {
      changed[i] = byte ^ 0x20
      return changed
    }
  }
  throw new Error('no letter to change')
}

const noStore = { 'Cache-Control': 'no-store' }

export async function startIntegritySite(): Promise<IntegritySite> {
  const pages = new Map<string, { html: string; headers?: Record<string, string> }>()
  const tampered = new Set<string>()
  const tamperedServed: string[] = []
  const cdnRequests: string[] = []
  const shopRequests: string[] = []
  const shop: StaticServer = await startStaticServer('.', 0, {
    handle: (url, res: ServerResponse) => {
      shopRequests.push(url.pathname + url.search)
      const page = pages.get(url.pathname)
      if (page === undefined) return false
      const headers = { 'Content-Type': 'text/html; charset=utf-8', 'Integrity-Policy': INTEGRITY_POLICY, ...noStore }
      res.writeHead(200, { ...headers, ...page.headers }).end(page.html)
      return true
    },
  })
  const cors = { 'Access-Control-Allow-Origin': '*' }
  const cdn: StaticServer = await startStaticServer('.', 0, {
    handle: (url, res: ServerResponse) => {
      cdnRequests.push(url.pathname)
      if (!tampered.has(url.pathname)) return false
      tamperedServed.push(url.pathname)
      const bytes = tamper(readFileSync(`.${url.pathname}`))
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', ...cors, ...noStore }).end(bytes)
      return true
    },
    headers: () => cors,
  })
  return {
    shop: shop.url,
    cdn: cdn.url,
    base: `${cdn.url}/dist/`,
    tampered,
    tamperedServed,
    cdnRequests,
    shopRequests,
    page(name, html, headers) {
      pages.set(`/integrity/${name}.html`, { html, headers })
      return `${shop.url}/integrity/${name}.html`
    },
    close: async () => {
      await Promise.all([shop.close(), cdn.close()])
    },
  }
}

/** The fixture both suites use: a fresh pair of servers per test. */
export const integritySiteFixture = {
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
  integritySite: async ({}, use: (site: IntegritySite) => Promise<void>) => {
    const site = await startIntegritySite()
    await use(site)
    await site.close()
  },
}

/** A timeout no test here may come near: a module that can't load must not make track wait for it. */
export const TIMEOUT_MS = 8_000
export const settingsFor = (standIn: StandIn) => ({ apiKey: API_KEY, endpoint: standIn.url, timeoutMs: TIMEOUT_MS })
/** The page's own record (WATCH) when nothing was refused. */
export const CLEAN = { violations: [], reports: [], scriptErrors: [], rejections: [] }

/** What each route fetches of the CDN for an order: the entry, then the delivery module (and its import of the entry). */
export const FETCHED: Record<Route, string[]> = {
  module: ['/dist/index.js', '/dist/delivery.js'],
  classic: ['/dist/trustpilot.global.js', '/dist/index.js', '/dist/delivery.js'],
}

/** What the flows need of the page, whichever driver is behind it. */
export interface IntegrityPage {
  /**
   * Opens `url` and waits until the snippet's plugin is registered (with `registers: false`, none to
   * wait for: a remote plugin), then until analytics-next is ready.
   */
  open(url: string, options?: { registers?: boolean }): Promise<void>
  /** What the page itself recorded (WATCH), once the engine has queued its reports. */
  watch(): Promise<Record<string, string[]>>
  /** The order ids the plugin keeps in localStorage. */
  storedOrders(): Promise<string[]>
  /** Adds `<script src>` without integrity to the page: 'loaded' or 'refused'. */
  addScript(src: string): Promise<string>
  /** `typeof window.trustpilotDestination`: 'undefined' where the classic script never ran. */
  destinationType(): Promise<string>
}

/** The harness calls of either suite's shop (e2e/support/fixtures.ts, e2e/webkitgtk/webdriver.ts). */
export interface IntegrityShop {
  track(event: string, properties: Record<string, unknown>): Promise<unknown>
  waitForOutcome(status: string, referenceId?: string): Promise<Outcome | undefined>
  outcomes(): Promise<Outcome[]>
}

/** One test's page, shop, Trustpilot stand-in and servers. */
export interface IntegrityRun {
  page: IntegrityPage
  shop: IntegrityShop
  standIn: StandIn
  site: IntegritySite
}

/** The page enforces the policy: a script without integrity is refused, and never reaches the server. */
export async function expectEnforced({ page, site }: IntegrityRun) {
  expect(await page.addScript(`${site.shop}/e2e/pages/console-capture.js?without-integrity`)).toBe('refused')
  expect(site.shopRequests).not.toContain('/e2e/pages/console-capture.js?without-integrity')
}

/**
 * The printed snippet of `route`: 202 → products → 201 → sent, the CDN asked for the route's files
 * only, nothing refused, and integrity.json asked of neither server.
 */
export async function expectPrintedSnippetDelivers({ page, shop, standIn, site }: IntegrityRun, route: Route) {
  const snippet = withSettings(await printedSnippet(site.base, route), settingsFor(standIn))
  await page.open(site.page(`order-${route}`, shopPage({ snippet })))
  await shop.track('Order Completed', SEED_PROPERTIES)
  const sent = await shop.waitForOutcome('sent')
  expect(sent?.reason).toBe('accepted by Trustpilot')
  expect(standIn.requests.map((r) => [r.status, 'products' in r.body])).toEqual([
    [202, false],
    [201, true],
  ])
  expect(site.cdnRequests).toEqual(FETCHED[route])
  expect(await page.watch()).toEqual(CLEAN)
  for (const requests of [site.cdnRequests, site.shopRequests])
    expect(requests.filter((path) => path.includes('integrity.json'))).toEqual([])
}

/**
 * Both routes' snippets printed with --nonce, on pages under a nonce-based strict CSP as well: order
 * `nonce-<route>` sent on each, nothing refused.
 */
export async function deliverUnderNonceCsp({ page, shop, standIn, site }: IntegrityRun) {
  const nonce = 'c2hvcC1ub25jZQ'
  const csp = `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'`
  for (const route of ['module', 'classic'] as const) {
    const snippet = withSettings(await printedSnippet(site.base, route, nonce), settingsFor(standIn))
    await page.open(site.page(`nonce-${route}`, shopPage({ snippet, nonce }), { 'Content-Security-Policy': csp }))
    const referenceId = `nonce-${route}`
    await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: referenceId })
    await shop.waitForOutcome('sent', referenceId)
    expect(await page.watch()).toEqual(CLEAN)
  }
}

/**
 * The module route with dist/delivery.js tampered (one byte changed, its hash not): track returns at
 * once, order `tampered` is kept (`retrying`, "did not load"), nothing reaches Trustpilot. Then
 * `whileKept` (what else the suite's driver sees), and a later page, the file right again, delivers it.
 */
export async function expectTamperedModuleKept(
  { page, shop, standIn, site }: IntegrityRun,
  whileKept?: (outcome: Outcome | undefined) => Promise<void>,
) {
  const snippet = withSettings(await printedSnippet(site.base, 'module'), settingsFor(standIn))
  const url = site.page('tampered', shopPage({ snippet }))
  site.tampered.add('/dist/delivery.js')
  await page.open(url)
  const started = Date.now()
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'tampered' })
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS)
  const outcome = await shop.waitForOutcome('retrying', 'tampered')
  expect(outcome?.reason).toMatch(/^the delivery module did not load \(TypeError: .*\); the order is kept/)
  // The browser had the changed bytes, and ran none of them: nothing reached Trustpilot.
  expect(site.tamperedServed).toEqual(['/dist/delivery.js'])
  expect(standIn.requests).toEqual([])
  expect(await page.storedOrders()).toEqual(['tampered'])
  await whileKept?.(outcome)

  // The CDN serves the right file again: the next page loads it and delivers the kept order.
  site.tampered.clear()
  await page.open(url)
  await shop.waitForOutcome('sent', 'tampered')
  expect(standIn.requests.map((r) => [r.body.referenceId, r.status])).toEqual([
    ['tampered', 202],
    ['tampered', 201],
  ])
  expect(await page.storedOrders()).toEqual([])
}

/**
 * `route`'s snippet with the entry pinned but no import-map entries for the modules it loads later:
 * track returns at once, order `unpinned` is kept ("did not load"), the refused module never reached
 * the CDN. Then `whileKept`, and the documented snippet on the next page delivers it.
 */
export async function expectUnpinnedModulesKept(
  { page, shop, standIn, site }: IntegrityRun,
  route: Route,
  whileKept?: () => Promise<void>,
) {
  const full = withSettings(await printedSnippet(site.base, route), settingsFor(standIn))
  // The module route keeps the entry's own entry (it is imported through the map); the classic
  // route's entry is pinned by its script tag, so its map keeps nothing.
  const pinnedEntryOnly = keepingEntries(full, (url) => route === 'module' && url === `${site.base}index.js`)
  await page.open(site.page(`entry-only-${route}`, shopPage({ snippet: pinnedEntryOnly })))
  const started = Date.now()
  await shop.track('Order Completed', { ...SEED_PROPERTIES, order_id: 'unpinned' })
  expect(Date.now() - started).toBeLessThan(TIMEOUT_MS)
  const outcome = await shop.waitForOutcome('retrying', 'unpinned')
  expect(outcome?.reason).toMatch(/^the delivery module did not load \(TypeError: .*\); the order is kept/)
  expect(standIn.requests).toEqual([])
  expect(await page.storedOrders()).toEqual(['unpinned'])
  // The policy refused the module before asking for it: it never reached the CDN.
  expect(site.cdnRequests).toEqual(route === 'module' ? ['/dist/index.js'] : ['/dist/trustpilot.global.js'])
  await whileKept?.()

  // The documented snippet on the next page: the kept order goes.
  await page.open(site.page(`entry-only-${route}-fixed`, shopPage({ snippet: full })))
  await shop.waitForOutcome('sent', 'unpinned')
  expect(standIn.requests.map((r) => r.status)).toEqual([202, 201])
}

/** The classic snippet without crossorigin: its script is refused (no CORS, no integrity check), the plugin never loads. */
export async function expectClassicWithoutCorsRefused({ page, standIn, site }: IntegrityRun) {
  const printed = withSettings(await printedSnippet(site.base, 'classic'), settingsFor(standIn))
  const withoutCors = printed.replace(' crossorigin="anonymous"', '')
  expect(withoutCors).not.toBe(printed)
  await page.open(site.page('no-cors', shopPage({ snippet: withoutCors })), { registers: false })
  expect(await page.destinationType()).toBe('undefined')
  expect((await page.watch()).scriptErrors).toEqual([`${site.base}trustpilot.global.js`])
  expect(site.cdnRequests).toEqual([])
}

/** A page whose inline module imports the pinned entry statically, beside the import map the snippet prints. */
export async function staticImportPage(site: IntegritySite) {
  const printed = await printedSnippet(site.base, 'module')
  const map = /<script type="importmap">[\s\S]*?<\/script>/.exec(printed)?.[0] as string
  const statically = `<script type="module">import { trustpilot } from '${site.base}index.js'; window.imported = typeof trustpilot</script>`
  return site.page('static-import', shopPage({ snippet: `${map}\n${statically}` }))
}

/**
 * The plugin as an analytics-next remote plugin, which loads its <script> without integrity: blocked
 * before it runs, never asked of the CDN.
 */
export async function expectRemotePluginBlocked({ page, standIn, site }: IntegrityRun) {
  const cdnSettings = remotePluginCdnSettings(site.cdn, settingsFor(standIn))
  await page.open(site.page('remote', shopPage({ snippet: '', cdnSettings })), { registers: false })
  expect(await page.destinationType()).toBe('undefined')
  expect((await page.watch()).scriptErrors).toEqual([`${site.base}trustpilot.global.js`])
  expect(site.cdnRequests).toEqual([])
}

/**
 * The remote plugin's script pinned by the page itself (the classic snippet's tag, status="loaded"):
 * analytics-next uses it, the order is sent, nothing refused.
 */
export async function expectPinnedRemotePluginDelivers({ page, shop, standIn, site }: IntegrityRun) {
  const snippet = asLoadedRemotePlugin(await printedSnippet(site.base, 'classic'))
  const cdnSettings = remotePluginCdnSettings(site.cdn, settingsFor(standIn))
  await page.open(site.page('remote-pinned', shopPage({ snippet, cdnSettings })), { registers: false })
  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent')
  expect(standIn.requests.map((r) => r.status)).toEqual([202, 201])
  // One request for the script: the page's own; analytics-next added none.
  expect(site.cdnRequests).toEqual(FETCHED.classic)
  expect(await page.watch()).toEqual(CLEAN)
}
