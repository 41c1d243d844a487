/**
 * The delivery module: everything that runs only once there is something to deliver. The entry
 * (plugin.ts) imports it on demand: on an Order Completed, when storage holds work at load, and ahead
 * of time on checkout events. It wires mapping → outbox → transport, as the whole plugin did before
 * the split; the entry hands it orders and tells it about the page's lifecycle.
 */
import type { Context } from '@segment/analytics-next'
import { RetryableError } from './errors.js'
import { dropOrder, keptOrders, type Order } from './inbox.js'
import { type Invitation, mapOrder } from './mapping.js'
import { createOutbox } from './outbox.js'
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
  /** Takes in the orders earlier pages kept, and sends whatever is due. */
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
  const outbox = createOutbox({ settings, store, transport, notify, locks })

  function take(order: Order, ctx?: Context, kept?: string) {
    const mapped = mapOrder(order.event, order.traits, settings)
    if ('skip' in mapped)
      notify({ status: 'skipped', referenceId: mapped.referenceId, reason: mapped.skip }, undefined, ctx)
    else outbox.submit(mapped.invitation)
    // Only now: the invitation is in the outbox (or the order was never valid).
    if (kept) dropOrder(kept)
  }

  return {
    take,
    flush() {
      for (const [key, order] of keptOrders(settings.apiKey)) take(order, undefined, key)
      outbox.flush()
    },
    retryNow: outbox.retryNow,
    setLeaving: outbox.setLeaving,
    stop: outbox.stop,
  }
}
