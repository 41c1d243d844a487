/**
 * The delivery module: everything that runs only once there is something to deliver. The entry
 * (plugin.ts) imports it on demand: on an Order Completed, when storage holds work at load, and ahead
 * of time on checkout events. It wires mapping → courier → transport, which is all an order page
 * needs when Trustpilot answers; the rest of the outbox (retries, timers, entries earlier pages left:
 * outbox.ts) is a module of its own, imported the first time one of those comes up.
 */
import type { Context } from '@segment/analytics-next'
import { createCourier } from './courier.js'
import { RetryableError } from './errors.js'
import { dropOrder, type Order } from './inbox.js'
import { type Invitation, mapOrder } from './mapping.js'
import type { Outbox } from './outbox.js'
import type { ResolvedSettings } from './settings.js'
import { createStore } from './store.js'
import { apiTransport, type Transport } from './transport.js'
import type { TrustpilotOutcome } from './types.js'

/** What the entry gives the module: the checked settings, and where outcomes go. */
export interface DeliveryHost {
  settings: ResolvedSettings
  /** Reports an outcome; `ctx` when it is known while the order's `track` runs. Must not throw. */
  notify(outcome: TrustpilotOutcome, invitation?: Invitation, ctx?: Context): void
  /** Web Locks, where the page has them (tests pass their own). */
  locks?: LockManager
}

/**
 * Storage problems go to the console even without debug: they hold no personal data, are rare, and a
 * shop needs to know its invitations are no longer kept across pages.
 */
const warn = (message: string) => console.warn(`Trustpilot: ${message}`)

export interface Delivery {
  /**
   * Maps the order and, when it is valid, stores and sends it (the request starts in a microtask).
   * @param kept the order's key in the inbox, dropped once the order is in the outbox
   */
  take(order: Order, ctx?: Context, kept?: string): void
  /** Sends what is stored and due (invitations earlier pages left): the outbox's work. */
  flush(): void
  retryNow(): void
  setLeaving(leaving: boolean): void
  stop(): void
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
      throw new RetryableError(`${what} did not load (${error})`)
    }))
}

export function startDelivery({ settings, notify, locks = globalThis.navigator?.locks }: DeliveryHost): Delivery {
  const store = createStore(settings.apiKey, warn)
  // Trustpilot's own script as the transport is a module of its own: few shops choose it.
  const script = onDemand(
    () => import('./script-transport.js').then((module) => module.scriptTransport(settings)),
    'the script transport',
  )
  const transport: Transport =
    settings.transport === 'script'
      ? { send: (...args) => script().then((scripted) => scripted.send(...args)) }
      : apiTransport(settings)
  const courier = createCourier({ settings, store, transport, notify, locks })
  /** The outbox once it is here: new invitations then go through it, so its cap applies. */
  let loaded: Outbox | undefined
  /**
   * The rest of the outbox, imported the first time a retry, a timer or stored work needs it; it
   * attaches itself to this page's courier. If it can't load, what is stored stays stored: going
   * back online, a later order or a later page tries again.
   */
  const outbox = onDemand(
    () =>
      import('./outbox.js').then(
        (module) => (loaded = module.createOutbox({ settings, store, transport, notify, locks, courier })),
      ),
    'the outbox',
  )
  const ignore = () => {}
  // A transient failure before the outbox is here: it comes, then takes the retry as it always does.
  courier.hooks.retry = (id, invitation, error) =>
    outbox().then(
      () => {
        courier.hooks.retry(id, invitation, error)
        courier.hooks.settled()
      },
      (problem: Error) =>
        notify(
          { status: 'retrying', referenceId: id, reason: `${error.message}; ${problem.message}`, error },
          invitation,
        ),
    )

  function take(order: Order, ctx?: Context, kept?: string) {
    // `order` may be anything a page kept under our key: mapping reads it as unknown.
    const mapped = mapOrder(order?.event, order?.traits, settings)
    if ('skip' in mapped)
      notify({ status: 'skipped', referenceId: mapped.referenceId, reason: mapped.skip }, undefined, ctx)
    else (loaded ?? courier).submit(mapped.invitation)
    // Only now: the invitation is in the outbox (or the order was never valid).
    if (kept) dropOrder(kept)
  }

  return {
    take,
    flush: () => outbox().then((o) => o.flush(), ignore),
    retryNow: () => outbox().then((o) => o.retryNow(), ignore),
    setLeaving(leaving) {
      courier.setLeaving(leaving)
      // Back from the back/forward cache: only an outbox that was here has anything to look at again.
      if (!leaving) loaded?.flush()
    },
    stop() {
      courier.stop()
      loaded?.stop()
    },
  }
}
