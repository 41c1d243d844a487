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

const record = (type) => (ctx) => {
  window.received.push({ type, event: ctx.event.event })
  return ctx
}
const recorder = {
  name: 'Recorder',
  type: 'destination',
  version: '1.0.0',
  isLoaded: () => true,
  load: () => Promise.resolve(),
  track: record('track'),
  page: record('page'),
  identify: record('identify'),
  group: record('group'),
  alias: record('alias'),
  screen: record('screen'),
}

const loadScript = (src) =>
  new Promise((resolve, reject) => {
    const script = document.createElement('script')
    script.src = src
    script.onload = resolve
    script.onerror = () => reject(new Error(`could not load ${src}`))
    document.head.appendChild(script)
  })

window.start = async ({ via = 'module', base = '', settings, cdnSettings = {}, loadOptions = {} }) => {
  const plugins = [recorder]
  if (via === 'module') {
    const { trustpilot } = await import(`${base}/dist/index.js`)
    plugins.unshift(trustpilot(settings))
  } else if (via === 'global') {
    await loadScript(`${base}/dist/trustpilot.global.js`)
    plugins.unshift(window.trustpilotDestination(settings))
  }
  const browser = window.AnalyticsBrowser.load(
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
  window.analytics = analytics
}
