// A Shopify custom pixel, played in the browser tests (e2e/opaque-frame.spec.ts): code in a frame
// with an opaque origin (<iframe sandbox="allow-scripts allow-forms">, as Shopify's lax sandbox makes
// it, or a page served with the CSP `sandbox allow-scripts`). Classic script, no build step: the page
// loads analytics-next's npm build (e2e/.build/analytics-next.js) before it. Never touches
// document.cookie or localStorage itself: in such a frame both throw.
//
// ?shopify=<shop origin> (a frame with a URL only): first does what Shopify's own sandbox script does
// before it runs a custom pixel (docs/shopify.md): it replaces document.cookie, window.origin and
// localStorage with stand-ins of its own (Shopify's are backed by the top frame, through its
// asynchronous `browser` API; these, by memory).
const shopOrigin = new URLSearchParams(location.search).get('shopify')
if (shopOrigin) {
  let jar = ''
  Object.defineProperty(document, 'cookie', {
    get: () => jar,
    set: (value) => {
      const pair = String(value).split(';')[0]
      const name = `${pair.split('=')[0]}=`
      jar = [...jar.split('; ').filter((c) => c && !c.startsWith(name)), pair].join('; ')
    },
    configurable: false,
  })
  Object.defineProperty(window, 'origin', { get: () => shopOrigin, configurable: false })
  const items = new Map()
  const storage = {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, String(value)),
    removeItem: (key) => void items.delete(key),
    clear: () => items.clear(),
    get length() {
      return items.size
    },
    key: (i) => [...items.keys()][i] ?? null,
  }
  Object.defineProperty(window, 'localStorage', { get: () => storage, configurable: false })
}

window.outcomes = []
/** Events that reached the destinations (the plugin's and this Recorder's turn). */
window.received = []
/** Each failed attempt of analytics-next to deliver an event: the error, and the plugins that threw it. */
window.failures = []
/** Each analytics.track() promise that settled, and whether analytics-next marked it failed. */
window.settled = []
/** Anything thrown into the page (uncaught, or an unhandled rejection). */
window.pageErrors = []
window.addEventListener('error', (e) => window.pageErrors.push(`${e.error?.name}: ${e.message}`))
window.addEventListener('unhandledrejection', (e) => window.pageErrors.push(`${e.reason?.name}: ${e.reason?.message}`))

const nameOf = (error) => error?.name ?? String(error)

/** What this frame lets a script do, each read in a try: the value, or the name of what it threw. */
window.probe = async () => {
  const read = (get) => {
    try {
      return get()
    } catch (error) {
      return `threw ${nameOf(error)}`
    }
  }
  const locks = navigator.locks
    ? await navigator.locks.request('probe', () => 'granted').catch((error) => `rejected ${nameOf(error)}`)
    : 'missing'
  return {
    selfOrigin: read(() => self.origin),
    locationOrigin: read(() => location.origin),
    documentDomain: read(() => document.domain),
    cookie: read(() => typeof document.cookie),
    localStorage: read(() => typeof localStorage.getItem('probe')),
    locks,
  }
}

/**
 * The recipe's first lines (docs/shopify.md): where reading document.cookie throws, a cookie jar that
 * holds nothing; where it reads (Shopify's own stand-in), it is left alone.
 */
const guardCookie = () => {
  try {
    void document.cookie
  } catch {
    Object.defineProperty(document, 'cookie', { configurable: true, get: () => '', set: () => {} })
  }
}

// e2e/pages/recorder.js; only the names of track events are kept.
const recorder = window.recorderPlugin((type) => (ctx) => {
  if (type === 'track') window.received.push(ctx.event.event)
  return ctx
})

/**
 * start(options) loads analytics-next offline (Segment.io off) with the Trustpilot plugin, imported
 * from `plugin` (an ES module URL; a CDN must answer it with CORS headers, as every request of this
 * frame is cross-origin), and the Recorder. Options:
 * - settings: the plugin's; loadOptions: analytics-next's (its `integrations` merged with Segment.io's);
 * - cookieGuard: run the recipe's cookie lines first; deregister: plugin names to deregister after load.
 */
window.start = async ({ plugin = '/dist/index.js', settings, loadOptions = {}, cookieGuard, deregister = [] }) => {
  if (cookieGuard) guardCookie()
  // Absolute: a classic script's import() from an opaque-origin page resolves against about:blank.
  const { trustpilot } = await import(new URL(plugin, document.baseURI).href)
  const browser = new window.AnalyticsBrowser()
  browser.load(
    {
      writeKey: 'test-write-key',
      cdnSettings: { integrations: {}, metrics: { sampleRate: 0 } },
      plugins: [trustpilot(settings), recorder],
    },
    { ...loadOptions, integrations: { 'Segment.io': false, ...loadOptions.integrations } },
  )
  browser.on('trustpilot', (o) =>
    window.outcomes.push({ status: o.status, referenceId: o.referenceId, reason: o.reason, error: o.error?.name }),
  )
  const [analytics] = await browser
  analytics.queue.on('delivery_failure', (ctx, error) =>
    window.failures.push({
      event: ctx.event.event,
      error: nameOf(error),
      plugins: ctx
        .logs()
        .filter((log) => log.message === 'plugin Error')
        .map((log) => log.extras?.plugin),
    }),
  )
  for (const name of deregister) await analytics.deregister(name)
  window.analytics = analytics
}

/** analytics.track, not waited for: its promise may not settle for minutes (analytics-next retries). */
window.track = (event, properties) => {
  window.analytics.track(event, properties).then((ctx) => {
    const failed = ctx.failedDelivery()
    window.settled.push({ event, failed: failed ? nameOf(failed.reason) : undefined })
  })
}
window.pixelReady = true
