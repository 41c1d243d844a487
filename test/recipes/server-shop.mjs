/**
 * A shop's analytics module as a server runs it (a server render, a script in Node, Deno or Bun):
 * run from the shop's project by test/recipes/server-runtimes.test.ts, with the packed package
 * installed. It creates the plugin with every setting and a path endpoint, loads it into a stand-in
 * of analytics-next and tracks a page event and an order, catching whatever is thrown. Its only
 * output is one JSON line of what it saw: anything else printed is something the package printed.
 */
const API_KEY = 'server-render-key'

// No request may leave: each is recorded and refused, so the report tells whether one was tried.
const requests = []
globalThis.fetch = async (input) => {
  requests.push(String(input?.url ?? input))
  throw new TypeError('this test refuses every request')
}

const report = { thrown: [], requests, outcomes: [], errors: [], tracked: [], logs: [], malformed: {} }
/** Runs one step a shop's code would take; an exception is recorded, not let out. */
async function step(name, action) {
  try {
    return await action()
  } catch (error) {
    report.thrown.push(`${name}: ${error?.name}: ${error?.message}`)
  }
}

// Where this runtime has a `location` and whether reading it throws (Deno 1 without --location did).
try {
  report.location = typeof globalThis.location
} catch (error) {
  report.location = `throws ${error?.name}`
}

/** The part of analytics-next's instance the plugin uses: events, the user's traits, and track. */
const listeners = new Map()
const analytics = {
  on(name, listener) {
    listeners.set(name, [...(listeners.get(name) ?? []), listener])
    return analytics
  },
  emit(name, ...args) {
    for (const listener of listeners.get(name) ?? []) listener(...args)
    return analytics
  },
  user: () => ({ traits: () => ({}) }),
  track: async (event, properties, options) => {
    report.tracked.push({ event, properties, options })
  },
}

let messageIds = 0
/** A Context as analytics-next hands one to a destination: the event, and a log kept with it. */
const contextOf = (event, properties) => ({
  event: {
    type: 'track',
    event,
    properties,
    context: { consent: { categoryPreferences: { Analytics: true } } },
    integrations: {},
    messageId: `server-${++messageIds}`,
  },
  log: (level, message) => report.logs.push([level, message]),
})

// Every setting, valid; `debug` and `dryRun` off, as a shop's production settings have them.
const settings = {
  apiKey: API_KEY,
  endpoint: '/trustpilot',
  source: 'ServerRender',
  debug: false,
  timeoutMs: 2_000,
  maxAttempts: 3,
  maxAgeHours: 24,
  consentCategories: ['Analytics'],
  excludeAudiences: ['churned_buyers'],
  templateId: 'template-1',
  locale: 'en-US',
  tags: ['server'],
  transport: 'api',
  trackOutcomes: true,
  dryRun: false,
}

const finalOutcome = new Promise((resolve) => {
  analytics.on('trustpilot', (outcome) => {
    report.outcomes.push({
      status: outcome.status,
      referenceId: outcome.referenceId,
      reason: outcome.reason,
      error: outcome.error && `${outcome.error.name}: ${outcome.error.message}`,
    })
    if (outcome.status !== 'retrying') resolve()
  })
})
analytics.on('error', (error) => report.errors.push({ code: error?.code, reason: error?.reason?.name }))

const entry = await step('import', () => import('analytics-plugin-trustpilot'))
const plugin = entry && (await step('trustpilot(settings)', () => entry.trustpilot(settings)))
if (plugin) {
  await step('load', () => plugin.load(contextOf('Page Loaded', {}), analytics))
  await step('track Product Viewed', () => {
    const ctx = contextOf('Product Viewed', { product_id: 'p-1' })
    report.pageEventSynchronous = plugin.track(ctx) === ctx
  })
  await step('track Order Completed', () =>
    plugin.track(contextOf('Order Completed', { order_id: 'server-order-1', email: 'buyer@example.com', total: 10 })),
  )
  // Bounded: no outcome in time is reported as none, not waited for.
  let timer
  await Promise.race([finalOutcome, new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))])
  clearTimeout(timer)
}

// A path that could leave the page's origin is still refused at once, whatever the runtime.
for (const endpoint of ['//evil.example', '/\\evil.example', '/\t/evil.example', '/a?x', '/a#x']) {
  try {
    entry?.trustpilot({ apiKey: API_KEY, endpoint })
    report.malformed[endpoint] = 'accepted'
  } catch (error) {
    report.malformed[endpoint] = `${error?.name}: ${error?.message}`
  }
}

console.log(JSON.stringify(report))
