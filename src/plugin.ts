/**
 * The analytics-next destination plugin, as the entry every page loads: a plain object, as
 * analytics-next's own Segment.io plugin is. It filters events, keeps each Order Completed, and loads
 * the delivery module (delivery.ts: mapping → courier → transport) only when there is something to
 * deliver, or soon will be:
 * - on an Order Completed. `track` keeps the order in storage first (inbox.ts), then waits for the
 *   module at most `timeoutMs`: once it is there, the request is on the wire before `track` resolves;
 *   if it can't load, the order stays kept and a later page delivers it;
 * - at load, when storage holds an order or an invitation an earlier page did not finish;
 * - ahead of time on Segment's checkout events, so the thank-you page usually has it already.
 * A page with none of these fetches nothing more than this entry.
 */
import type { Analytics, Context, Plugin } from '@segment/analytics-next'
import type { Delivery, DeliveryHost, PageAnalytics } from './delivery.js'
import { RetryableError } from './errors.js'
import { keepOrder, type Order, orderOf, storedWork } from './inbox.js'
import { ORDER_COMPLETED, OUTCOME_EVENT, PLUGIN_NAME } from './keys.js'
import type { ResolvedSettings } from './settings.js'
import { withTimeout } from './timeout.js'
import type { TrustpilotMiddleware } from './types.js'

declare const __VERSION__: string

/** Segment's checkout events (its e-commerce spec): an order is near, so the module is fetched now. */
export const CHECKOUT_EVENTS = [
  'Checkout Started',
  'Checkout Step Viewed',
  'Checkout Step Completed',
  'Payment Info Entered',
]

/** How the entry gets the delivery module: `import('./delivery.js')`, or from the script's own URL. */
export type LoadDelivery = () => Promise<{ startDelivery(host: DeliveryHost): Delivery }>

/** An order for the module; once handed over, `taken` settles when the module has taken it. */
interface Waiting {
  order: Order
  ctx?: Context
  /** Its key in the inbox, where it is kept until the module has it. */
  keptKey?: string
  taken?: void | Promise<void>
}

/** The plugin object: an analytics-next destination that takes destination middleware. */
export type TrustpilotPlugin = Plugin & { addMiddleware(...middleware: TrustpilotMiddleware[]): void }

export function createPlugin(settings: ResolvedSettings, loadDelivery: LoadDelivery): TrustpilotPlugin {
  let analytics: Analytics | undefined
  let delivery: Delivery | undefined
  let starting: Promise<void> | undefined
  let leaving = false
  let unloaded = false
  /** Whether storage held invitations not yet delivered when the page loaded. */
  let pendingAtLoad = false
  /**
   * Orders for the module, handed over as soon as it is here: this page's (by message id) taken
   * before it was, and those earlier pages kept (by their key).
   */
  const waiting = new Map<string, Waiting>()
  /** Destination middleware added so far; the module reads it at each order. */
  const middleware: TrustpilotMiddleware[] = []

  /**
   * The one outcome the entry reports itself: the module did not load, so the order waits in the
   * inbox. Every other outcome is the module's to report (delivery.ts).
   */
  function reportNotLoaded(ctx: Context, error: RetryableError) {
    const referenceId = ctx.event.properties?.order_id?.toString()
    const reason = `${error.message}; the order is kept until it loads, here or on a later page`
    // The line delivery.ts's pageReporter writes for every other outcome, kept inline: a helper
    // shared by both bundles would cost the entry bytes it doesn't have (docs/size-and-speed.md).
    const message = `${PLUGIN_NAME} retrying${referenceId ? ` ${referenceId}` : ''}: ${reason}`
    ctx.log('warn', message)
    if (settings.debug) console.warn(message)
    try {
      // Stryker disable next-line OptionalChaining: the catch below takes a missing instance as it takes a throwing listener
      analytics?.emit(OUTCOME_EVENT as 'error', { status: 'retrying', referenceId, reason, error } as never)
    } catch {
      // A listener of the host page threw: not into the page's track. Unlike the module, the entry
      // doesn't log it with debug on (25 B on every page, for the one outcome that can't load more).
    }
  }

  /** Loads and starts the delivery module once (again after a failure); waiting orders go first. */
  function start(): Promise<void> {
    starting ??= loadDelivery()
      .then((module) => {
        // Unloaded meanwhile: nothing starts, and nothing is reported.
        if (unloaded) return
        delivery ??= module.startDelivery({
          settings,
          middleware,
          analytics: () => analytics as PageAnalytics | undefined,
        })
        for (const [id, order] of waiting) {
          waiting.delete(id)
          order.taken = delivery.take(order.order, order.ctx, order.keptKey)
        }
        // Invitations earlier pages left go out now. Without them, the outbox (dist/outbox.js) is
        // not needed unless something here fails.
        if (pendingAtLoad) delivery.flush()
        if (leaving) delivery.setLeaving(true)
      })
      .catch((error) => {
        starting = undefined
        throw new RetryableError(`the delivery module did not load (${error})`, { cause: error })
      })
    return starting
  }

  /** Starts the module without waiting for it; a failure is retried by the next occasion. */
  function startSoon() {
    start().catch((error) => {
      if (settings.debug) console.warn(`${PLUGIN_NAME}: ${error.message}`)
    })
  }

  function track(ctx: Context): Context | Promise<Context> {
    const { event } = ctx.event
    // The hot path for every other event: a comparison or two, no allocation.
    if (event !== ORDER_COMPLETED) {
      if (CHECKOUT_EVENTS.includes(event as string)) startSoon()
      return ctx
    }
    try {
      const order = orderOf(ctx.event, analytics?.user().traits())
      // Without middleware, the module stores the order before track returns.
      if (delivery && !middleware.length) {
        delivery.take(order, ctx)
        return ctx
      }
      // Else kept before anything is awaited: a page that goes away now loses nothing.
      const id = ctx.event.messageId ?? `${Math.random()}`
      const waits: Waiting = { order, ctx, keptKey: keepOrder(settings.apiKey, id, order) }
      if (delivery) return Promise.resolve(delivery.take(order, ctx, waits.keptKey)).then(() => ctx)
      waiting.set(id, waits)
      return withTimeout(start(), settings.timeoutMs, 'the delivery module did not load')
        .then(
          // Bounded by the module: its middleware gets timeoutMs of its own.
          () => waits.taken,
          (error: RetryableError) => unloaded || reportNotLoaded(ctx, error),
        )
        .then(() => ctx)
    } catch (error) {
      // Never into the host page, never into other destinations.
      ctx.log('error', `${PLUGIN_NAME}: could not handle the order: ${error}`)
      return ctx
    }
  }

  const setLeaving = (value: boolean) => {
    leaving = value
    delivery?.setLeaving(value)
  }
  const listeners: Array<[string, () => void]> = [
    // Back online: what waited out a backoff goes now, and a module that failed to load is tried again.
    ['online', () => (delivery ? delivery.retryNow() : waiting.size && startSoon())],
    ['pagehide', () => setLeaving(true)],
    ['pageshow', () => setLeaving(false)],
  ]

  return {
    name: PLUGIN_NAME,
    type: 'destination',
    // Stryker disable next-line ConditionalExpression,StringLiteral: only a build defines __VERSION__; e2e/plugin.spec.ts checks it
    version: typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev',
    isLoaded: () => true,
    /**
     * Where `analytics.addDestinationMiddleware('Trustpilot' | '*', …)` puts its functions: it reaches
     * only plugins registered by then, and only those with this method.
     */
    addMiddleware(...fns: TrustpilotMiddleware[]) {
      middleware.push(...fns)
    },
    async load(_ctx, instance) {
      analytics = instance
      for (const [type, listener] of listeners) globalThis.addEventListener?.(type, listener)
      // Orders and invitations earlier pages or other tabs left go out now.
      const work = storedWork(settings.apiKey)
      for (const [key, order] of work.orders) waiting.set(key, { order, keptKey: key })
      pendingAtLoad = work.pending
      if (pendingAtLoad || waiting.size) startSoon()
    },
    unload() {
      unloaded = true
      for (const [type, listener] of listeners) globalThis.removeEventListener?.(type, listener)
      delivery?.stop()
    },
    track,
  }
}
