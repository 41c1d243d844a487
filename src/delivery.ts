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
  /** Storage problems, which hold no personal data. */
  warn(message: string): void
  locks?: LockManager
}

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
 * Trustpilot's own script as the transport, from a module of its own: few shops choose it, so the
 * others never download it. Loaded on the first send; a failed load is retried like any send.
 */
function scriptTransportOnDemand(settings: ResolvedSettings): Transport {
  let loading: Promise<Transport> | undefined
  return {
    send(...args) {
      loading ??= import('./script-transport.js').then((module) => module.scriptTransport(settings))
      return loading.then(
        (transport) => transport.send(...args),
        (error) => {
          loading = undefined
          throw new RetryableError(`the script transport did not load (${error})`)
        },
      )
    },
  }
}

export function startDelivery({ settings, notify, warn, locks }: DeliveryHost): Delivery {
  const store = createStore(settings.apiKey, warn)
  const transport = settings.transport === 'script' ? scriptTransportOnDemand(settings) : apiTransport(settings)
  const courier = createCourier({ settings, store, transport, notify, locks })
  let outbox: Promise<Outbox> | undefined
  /** The outbox once it is here: new invitations then go through it, so its cap applies. */
  let loaded: Outbox | undefined

  /**
   * The rest of the outbox, imported once; it attaches itself to this page's courier. If it can't
   * load, what is stored stays stored: going back online, a later order or a later page tries again.
   */
  function recover(then: (outbox: Outbox) => void, failed = (_: string) => {}) {
    outbox ??= import('./outbox.js').then(
      (module) => (loaded = module.createOutbox({ settings, store, transport, notify, locks, courier })),
    )
    outbox.then(then, (error) => {
      outbox = undefined
      failed(`the outbox did not load (${error})`)
    })
  }
  // A transient failure before the outbox is here: it comes, then takes the retry as it always does.
  courier.hooks.retry = (id, invitation, error) =>
    recover(
      () => {
        courier.hooks.retry(id, invitation, error)
        courier.hooks.settled()
      },
      (problem) =>
        notify({ status: 'retrying', referenceId: id, reason: `${error.message}; ${problem}`, error }, invitation),
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
    flush: () => recover((o) => o.flush()),
    retryNow: () => recover((o) => o.retryNow()),
    setLeaving(leaving) {
      courier.setLeaving(leaving)
      // Back from the back/forward cache: only an outbox that was here has anything to look at again.
      if (!leaving) loaded?.flush()
    },
    stop() {
      courier.stop()
      outbox?.then(
        (o) => o.stop(),
        () => {},
      )
    },
  }
}
