// Test harness: loads analytics-next offline (cdnSettings given, Segment.io off) with the Trustpilot
// plugin from dist/ and a second destination that records every event it receives. Classic script,
// no build step: the plugin itself is loaded exactly as a shop loads it.
// ?storage=throws: localStorage that throws on access (privacy modes, sandboxed frames), set up
// before the plugin loads, for drivers that can't inject a script ahead of the page (WebDriver).
if (new URLSearchParams(location.search).get('storage') === 'throws') {
  Object.defineProperty(window, 'localStorage', {
    get() {
      throw new DOMException('denied', 'SecurityError')
    },
  })
}
// ?block=delivery: the test server refuses dist/delivery.js to this page (e2e/support/fixtures.ts),
// told by a cookie, which a page without the parameter clears again.
// biome-ignore lint/suspicious/noDocumentCookie: one fixed test cookie, set before anything loads; cookieStore is async
document.cookie =
  new URLSearchParams(location.search).get('block') === 'delivery'
    ? 'block=delivery; path=/'
    : 'block=; path=/; max-age=0'
window.received = []
window.outcomes = []
window.errors = []

// What the Recorder got, whole enough to check what other destinations see: the properties and
// the integrations object (window.received stays the short form older tests compare). Kept as
// given, never copied here: the fuzz tests send events no JSON.stringify survives (or finishes).
window.receivedEvents = []

const record = (type) => (ctx) => {
  window.received.push({ type, event: ctx.event.event })
  const { event, properties, integrations } = ctx.event
  window.receivedEvents.push({ type, event, properties, integrations })
  return ctx
}
// e2e/pages/recorder.js
const recorder = window.recorderPlugin(record)

const loadScript = (src) =>
  new Promise((resolve, reject) => {
    const script = document.createElement('script')
    script.src = src
    script.onload = resolve
    script.onerror = () => reject(new Error(`could not load ${src}`))
    document.head.appendChild(script)
  })

/**
 * start(options) loads analytics-next offline with the plugin and the Recorder. Options beside
 * via, base, settings, cdnSettings and loadOptions:
 * - analyticsNext: '<version>' runs on that version's npm build (e2e/.build/analytics-next-<version>.js,
 *   one per alias in package.json) in place of the pinned one the page loaded.
 * - register: how the Trustpilot plugin is added. 'plugins' (default): AnalyticsBrowser.load({ plugins });
 *   'after': analytics.register(plugin) once analytics-next has loaded; 'none': not at all, left at
 *   window.trustpilotPlugin for the test.
 * - consent: { model: 'opt-in' | 'opt-out', categories, integrationCategoryMappings? }: Segment's consent
 *   tools (createWrapper) wrap analytics before load, with those categories as the buyer's choice.
 * window.beforeLoad(browser, plugin), when a test defines it, runs just before browser.load(): what a
 * shop calls on the AnalyticsBrowser while it buffers.
 */
window.start = async ({
  via = 'module',
  base = '',
  settings,
  cdnSettings = {},
  loadOptions = {},
  analyticsNext,
  register = 'plugins',
  consent,
}) => {
  if (analyticsNext) await loadScript(`/e2e/.build/analytics-next-${analyticsNext}.js`)
  const plugins = [recorder]
  let plugin
  if (via === 'module') {
    const { trustpilot } = await import(`${base}/dist/index.js`)
    plugin = trustpilot(settings)
  } else if (via === 'global') {
    await loadScript(`${base}/dist/trustpilot.global.js`)
    plugin = window.trustpilotDestination(settings)
  }
  if (plugin && register === 'plugins') plugins.unshift(plugin)
  window.trustpilotPlugin = plugin
  const browser = new window.AnalyticsBrowser()
  if (consent) {
    await loadScript('/e2e/.build/analytics-consent-tools.js')
    window.AnalyticsConsentTools.createWrapper({
      shouldLoadSegment: (ctx) => ctx.load({ consentModel: consent.model }),
      getCategories: () => consent.categories,
      integrationCategoryMappings: consent.integrationCategoryMappings,
    })(browser)
  }
  window.beforeLoad?.(browser, plugin)
  // The consent tools' load returns a promise, analytics-next's own the browser: either way, the
  // browser is what resolves to analytics.
  browser.load(
    {
      writeKey: 'test-write-key',
      cdnSettings: { integrations: {}, metrics: { sampleRate: 0 }, ...cdnSettings },
      plugins,
    },
    { integrations: { 'Segment.io': false }, ...loadOptions },
  )
  browser.on('trustpilot', (o) =>
    window.outcomes.push({
      status: o.status,
      referenceId: o.referenceId,
      reason: o.reason,
      error: o.error?.name,
    }),
  )
  browser.on('error', (e) => window.errors.push({ code: e.code, reason: e.reason?.name, message: e.reason?.message }))
  const [analytics] = await browser
  if (plugin && register === 'after') await analytics.register(plugin)
  window.analytics = analytics
}
