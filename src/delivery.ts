/**
 * The delivery module: everything that runs only once there is something to deliver. The entry
 * (plugin.ts) imports it on demand: on an Order Completed, when storage holds work at load, and ahead
 * of time on checkout events. It wires mapping → courier → transport, which is all an order page
 * needs when Trustpilot answers; the rest of the outbox (retries, timers, entries earlier pages left:
 * outbox.ts) is a module of its own, imported the first time one of those comes up.
 */
import type { Context } from '@segment/analytics-next'
import { ALREADY_INVITED, type Courier, createCourier, handOverRetries } from './courier.js'
import { RetryableError } from './errors.js'
import { dropOrder, type Order } from './inbox.js'
import { OUTCOME_EVENT, PLUGIN_NAME } from './keys.js'
import { type Invitation, mapOrder, referenceOf } from './mapping.js'
import { applyMiddleware } from './middleware.js'
import type { Outbox, OutboxOptions } from './outbox.js'
import type { ResolvedSettings } from './settings.js'
import { createStore } from './store.js'
import { apiTransport, type Transport } from './transport.js'
import type { TrustpilotMiddleware, TrustpilotOutcome } from './types.js'

/** What the entry gives the module: the checked settings, and where outcomes go. */
export interface DeliveryHost {
  settings: ResolvedSettings
  /**
   * This page's analytics, once it has loaded the plugin: each outcome goes out as its `'trustpilot'`
   * event (a failure as `'error'` too), and with `trackOutcomes` as a track call.
   */
  analytics?(): PageAnalytics | undefined
  /** The page's destination middleware, as added so far (the entry's list, read at each order). */
  middleware?: TrustpilotMiddleware[]
  /** Web Locks, where the page has them (tests pass their own). */
  locks?: LockManager
  /** How the rarely needed parts are imported: `import()` of the files beside this one (tests pass their own). */
  modules?: DeliveryModules
}

/** The parts of delivery that are files of their own in dist/, imported the first time they are needed. */
export interface DeliveryModules {
  outbox(): Promise<{ createOutbox(options: OutboxOptions): Outbox }>
  scriptTransport(): Promise<{ scriptTransport(settings: ResolvedSettings): Transport }>
}

/** Literal specifiers, so a shop's bundler (and a CDN's browser) finds each file beside this one. */
const IMPORTED: DeliveryModules = {
  outbox: () => import('./outbox.js'),
  // Stryker disable next-line ArrowFunction: it needs a document; the browser tests load it (e2e/platform.spec.ts)
  scriptTransport: () => import('./script-transport.js'),
}

/** What the module uses of analytics-next's instance. */
export interface PageAnalytics {
  emit(event: string, payload: unknown): unknown
  track(event: string, properties: Record<string, unknown>, options: Record<string, unknown>): unknown
}

/** The reason of an order `dryRun` kept from Trustpilot. */
export const DRY_RUN = 'dry run: not sent'

/** Outcomes that are final, as `trackOutcomes` reports them to Segment. */
const OUTCOME_EVENTS: Partial<Record<TrustpilotOutcome['status'], string>> = {
  sent: 'Review Invitation Sent',
  failed: 'Review Invitation Failed',
  skipped: 'Review Invitation Skipped',
}

/**
 * Storage problems go to the console even without debug: they hold no personal data, are rare, and a
 * shop needs to know its invitations are no longer kept across pages.
 */
const warn = (message: string) => console.warn(`Trustpilot: ${message}`)

export interface Delivery {
  /**
   * Runs the page's destination middleware on the order (when it has any), maps it and, when it is
   * valid, stores and sends it (the request starts in a microtask). Never rejects.
   * @param keptKey the order's key in the inbox, dropped once the order is in the outbox
   * @returns a promise only while middleware runs
   */
  take(order: Order, ctx?: Context, keptKey?: string): void | Promise<void>
  /** Sends what is stored and due (invitations earlier pages left): the outbox's work. */
  flush(): void
  retryNow(): void
  setLeaving(leaving: boolean): void
  stop(): void
}

const ignore = () => {}

type Report = (outcome: TrustpilotOutcome, invitation?: Invitation, ctx?: Context) => void

/**
 * Tells the page of an outcome. Logs it to the event's context (for outcomes known while `track`
 * runs), and to the console only with debug on, since `invitation` holds the email address. Then a
 * `'trustpilot'` event for every outcome, and analytics-next's `'error'` event for a failure, as its
 * Segment.io plugin does.
 */
function pageReporter({ settings, analytics }: DeliveryHost): Report {
  return (outcome, invitation, ctx) => {
    const { status, referenceId } = outcome
    const message = `${PLUGIN_NAME} ${status}${referenceId ? ` ${referenceId}` : ''}: ${outcome.reason}`
    // Only a skip or a retry is known while track runs, and either is a warning.
    ctx?.log('warn', message)
    if (settings.debug) {
      console[status === 'sent' ? 'info' : status === 'failed' ? 'error' : 'warn'](
        message,
        ...(invitation ? [invitation] : []),
      )
    }
    try {
      const page = analytics?.()
      page?.emit(OUTCOME_EVENT, outcome)
      if (status === 'failed') page?.emit('error', { code: 'delivery_failure', reason: outcome.error, ctx })
    } catch (error) {
      // A listener of the host page threw: keep it from breaking delivery.
      if (settings.debug) console.error(`${PLUGIN_NAME}: an outcome listener threw`, error)
    }
  }
}

/**
 * A module imported when first needed, and again after a failure (offline, blocked): dist/ keeps the
 * rarely needed parts in files of their own, and a failed import is a retryable error like any other.
 */
function onDemand<T>(load: () => Promise<T>, what: string): () => Promise<T> {
  let loading: Promise<T> | undefined
  return () =>
    (loading ??= load().catch((error) => {
      loading = undefined
      throw new RetryableError(`${what} did not load (${error})`, { cause: error })
    }))
}

export function startDelivery(host: DeliveryHost): Delivery {
  const { settings, middleware = [], analytics, locks = globalThis.navigator?.locks, modules = IMPORTED } = host
  const reportToPage = pageReporter(host)
  /** Every outcome goes to the page; with `trackOutcomes`, each final one to Segment too. */
  const report: Report = (outcome, invitation, ctx) => {
    reportToPage(outcome, invitation, ctx)
    const event = OUTCOME_EVENTS[outcome.status]
    // The same order again (another tab, a reload) is no outcome of its own.
    if (settings.trackOutcomes && event && outcome.reason !== ALREADY_INVITED) {
      // No email address, no name: the reference, the reason, and how it went.
      const properties = {
        order_id: outcome.referenceId,
        reason: outcome.reason,
        provider: PLUGIN_NAME,
        transport: settings.transport,
      }
      try {
        // Stryker disable next-line OptionalChaining: the catch takes a missing instance as it takes a throwing track
        Promise.resolve(analytics?.()?.track(event, properties, { integrations: { [PLUGIN_NAME]: false } })).catch(
          ignore,
        )
      } catch {}
    }
  }
  const store = createStore(settings.apiKey, warn)
  // Trustpilot's own script as the transport is a module of its own: few shops choose it.
  const script = onDemand(
    () => modules.scriptTransport().then((module) => module.scriptTransport(settings)),
    'the script transport',
  )
  const transport: Transport =
    settings.transport === 'script'
      ? { send: (...args) => script().then((scripted) => scripted.send(...args)) }
      : apiTransport(settings)
  /**
   * The outbox, once it is here: the one object delivery then talks to (it wraps the courier, and its
   * cap applies to new invitations). Until then the courier alone, which is all an order page needs
   * when Trustpilot answers.
   */
  let outbox: Outbox | undefined
  const sender = (): Courier | Outbox => outbox ?? courier
  /** Imported the first time a retry, a timer or stored work needs it; again after a failure. */
  const loadOutbox = onDemand(
    () =>
      modules.outbox().then((module) => (outbox = module.createOutbox({ settings, store, report, locks, courier }))),
    'the outbox',
  )
  const courier = createCourier({
    settings,
    store,
    transport,
    report,
    locks,
    // Stryker disable next-line ArrowFunction: without the outbox at hand, a retry waits one promise for the same outbox
    retry: handOverRetries(() => outbox, loadOutbox, report),
    settled: () => outbox?.settled(),
  })

  /** Maps the order as it is now and hands it to the outbox; `event` replaces the order's own. */
  function mapAndSubmit(order: Order, ctx: Context | undefined, keptKey: string | undefined, event = order?.event) {
    // `order` may be anything a page kept under our key: mapping reads it as unknown.
    const mapped = mapOrder(event, order?.traits, settings)
    if ('skip' in mapped) skip(mapped.skip, ctx, keptKey, mapped.referenceId)
    // What would have gone: reported (and, with debug, logged) instead of stored and sent.
    else if (settings.dryRun) skip(DRY_RUN, ctx, keptKey, mapped.invitation.body.referenceId, mapped.invitation)
    else {
      sender().submit(mapped.invitation)
      // Only now: the invitation is in the outbox.
      if (keptKey) dropOrder(keptKey)
    }
  }

  /** The end of an order that is not sent: reported (with the invitation it would have been), and no longer kept. */
  function skip(
    reason: string,
    ctx: Context | undefined,
    keptKey: string | undefined,
    referenceId?: string,
    invitation?: Invitation,
  ) {
    report({ status: 'skipped', referenceId, reason }, invitation, ctx)
    if (keptKey) dropOrder(keptKey)
  }

  function take(order: Order, ctx?: Context, keptKey?: string) {
    if (!middleware.length) return mapAndSubmit(order, ctx, keptKey)
    // This page's whole event where the order is this page's; a kept order is what was kept of it.
    return applyMiddleware(ctx?.event ?? order?.event, middleware, PLUGIN_NAME, settings.timeoutMs).then((result) => {
      if ('event' in result) mapAndSubmit(order, ctx, keptKey, result.event as Order['event'])
      // The order's own reference: the middleware handed none on.
      else skip(result.skip, ctx, keptKey, referenceOf(order?.event))
    })
  }

  return {
    take,
    flush: () => loadOutbox().then((loaded) => loaded.flush(), ignore),
    retryNow: () => loadOutbox().then((loaded) => loaded.retryNow(), ignore),
    // Back from the back/forward cache, an outbox that was here looks at what is stored again.
    setLeaving: (leaving) => sender().setLeaving(leaving),
    stop: () => sender().stop(),
  }
}
