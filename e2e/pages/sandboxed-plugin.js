// The plugin in a frame with an opaque origin (e2e/sandboxed-frame.spec.ts, and the WebKit suite):
// this page's own script (e2e/pages/sandboxed-plugin.html) in a page served with the CSP
// `sandbox allow-scripts`, or the same in `<iframe sandbox="allow-scripts" srcdoc=…>`
// (e2e/pages/sandboxed-srcdoc.html). localStorage and document.cookie throw in such a frame, and
// every request says `Origin: null`. analytics-next cancels every event there (its Page Enrichment
// reads document.cookie: e2e/opaque-frame.spec.ts), so this page plays analytics-next's part: it
// creates the plugin from dist/index.js and calls plugin.load(ctx, analytics) and plugin.track(ctx)
// as analytics-next calls them, with a minimal analytics. Classic script, no build step.
//
// window.order(settings, properties) tracks one Order Completed. It returns at once and is never
// awaited by the test: whatever the plugin throws reaches this page uncaught, into
// window.pageErrors. The outcomes land in window.outcomes, each with `afterMs`, the time since
// trustpilot(settings) was called.
window.outcomes = []
window.pageErrors = []
window.addEventListener('error', (e) => window.pageErrors.push(`${e.error?.name}: ${e.message}`))
window.addEventListener('unhandledrejection', (e) => window.pageErrors.push(`${e.reason?.name}: ${e.reason?.message}`))

window.order = (settings, properties) => {
  const run = async () => {
    // From the shop's origin (the parent's, for srcdoc): a cross-origin module for an opaque origin.
    const { trustpilot } = await import(new URL('/dist/index.js', document.baseURI).href)
    const startedAt = performance.now()
    const plugin = trustpilot(settings)
    const analytics = {
      user: () => ({ traits: () => ({}) }),
      emit: (name, o) => {
        if (name !== 'trustpilot') return
        window.outcomes.push({
          status: o.status,
          referenceId: o.referenceId,
          reason: o.reason,
          error: o.error?.name,
          afterMs: Math.round(performance.now() - startedAt),
        })
      },
      track: () => Promise.resolve(),
    }
    await plugin.load({}, analytics)
    await plugin.track({
      event: {
        type: 'track',
        event: 'Order Completed',
        properties,
        context: {},
        integrations: {},
        messageId: `sandboxed-${properties.order_id}`,
      },
      log: () => {},
    })
  }
  // No catch: a throw is the page's, as it would be the host's.
  run()
  return true
}
