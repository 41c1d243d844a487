/**
 * The analytics-next destination plugin: a plain object, as analytics-next's own Segment.io plugin
 * is. It wires settings → mapping → outbox → transport and turns delivery events into outcomes the
 * host page can observe. Nothing here waits on the network: `track` stores and starts the request,
 * then returns.
 */
import type { Analytics, Context, Plugin } from '@segment/analytics-next'
import type { TrustpilotOutcome } from './index'
import { type Invitation, mapOrder, ORDER_COMPLETED } from './mapping'
import { createOutbox, type DeliveryEvent, type Outbox } from './outbox'
import type { ResolvedSettings } from './settings'
import { createStore } from './store'
import { apiTransport } from './transport'
import { scriptTransport } from './script-transport'

declare const __VERSION__: string

export const PLUGIN_NAME = 'Trustpilot'
export const OUTCOME_EVENT = 'trustpilot'

type Level = 'info' | 'warn' | 'error'

export function createPlugin(settings: ResolvedSettings): Plugin {
  let analytics: Analytics | undefined
  let outbox: Outbox | undefined
  /** The event behind each invitation this page submitted, to log outcomes where the event's logs are. */
  const contexts = new Map<string, Context>()

  /** ctx.log always; the console only with debug on, since `detail` may hold the email address. */
  function log(level: Level, message: string, ctx?: Context, detail?: unknown) {
    ctx?.log(level === 'info' ? 'info' : 'warn', `${PLUGIN_NAME}: ${message}`)
    if (settings.debug) console[level](`[${PLUGIN_NAME}] ${message}`, ...(detail ? [detail] : []))
  }

  function report(outcome: TrustpilotOutcome, level: Level, ctx?: Context, detail?: unknown) {
    log(level, `${outcome.status} ${outcome.referenceId ?? ''}: ${outcome.reason}`, ctx, detail)
    try {
      analytics?.emit(OUTCOME_EVENT as 'error', outcome as never)
      if (outcome.status === 'failed') {
        analytics?.emit('error', { code: 'delivery_failure', reason: outcome.error, ctx })
      }
    } catch (error) {
      // A listener of the host page threw: keep it from breaking delivery, but say so.
      log('error', `an outcome listener threw: ${error}`)
    }
  }

  function onDelivery(event: DeliveryEvent, invitation: Invitation) {
    const { referenceId } = event
    const ctx = contexts.get(referenceId)
    if (event.type !== 'retrying') contexts.delete(referenceId)
    switch (event.type) {
      case 'sent':
        return report({ status: 'sent', referenceId, reason: 'Trustpilot accepted the invitation' }, 'info', ctx, invitation)
      case 'duplicate':
        return report({ status: 'skipped', referenceId, reason: 'this order was already invited or is pending' }, 'info', ctx)
      case 'retrying': {
        const reason = `${event.error.message}; attempt ${event.attempts} failed, next in ${Math.round((event.nextAt - Date.now()) / 1000)} s`
        return report({ status: 'retrying', referenceId, reason, error: event.error }, 'warn', ctx)
      }
      case 'failed':
        return report({ status: 'failed', referenceId, reason: event.error.message, error: event.error }, 'error', ctx, invitation)
    }
  }

  function open(): Outbox {
    // Storage problems go to the console even without debug: they hold no personal data, are rare,
    // and a shop needs to know its invitations are no longer kept across pages.
    const store = createStore(settings.apiKey, (message) => console.warn(`[${PLUGIN_NAME}] ${message}`))
    const transport = settings.transport === 'script' ? scriptTransport(settings) : apiTransport(settings)
    const locks = typeof navigator === 'object' ? navigator.locks : undefined
    return createOutbox({ settings, store, transport, notify: onDelivery, locks })
  }

  function track(ctx: Context): Context {
    // The hot path for every other event: one comparison, no allocation.
    if (ctx.event.event !== ORDER_COMPLETED) return ctx
    try {
      const mapped = mapOrder(ctx.event, analytics?.user().traits(), settings)
      if ('skip' in mapped) {
        const orderId = ctx.event.properties?.order_id
        const referenceId =
          (typeof orderId === 'string' || typeof orderId === 'number') && String(orderId).trim()
            ? String(orderId).trim()
            : undefined
        report({ status: 'skipped', referenceId, reason: mapped.skip }, 'warn', ctx)
        return ctx
      }
      outbox ??= open()
      contexts.set(mapped.invitation.body.referenceId, ctx)
      outbox.submit(mapped.invitation)
    } catch (error) {
      // Never into the host page, never into other destinations.
      log('error', `could not handle the order: ${error}`, ctx)
    }
    return ctx
  }

  const onOnline = () => outbox?.flush()
  const onPageHide = () => outbox?.setLeaving(true)
  const onPageShow = () => outbox?.setLeaving(false)
  const listeners: Array<[string, () => void]> = [
    ['online', onOnline],
    ['pagehide', onPageHide],
    ['pageshow', onPageShow],
  ]

  return {
    name: PLUGIN_NAME,
    type: 'destination',
    version: typeof __VERSION__ === 'string' ? __VERSION__ : '0.0.0-dev',
    isLoaded: () => true,
    load(_ctx, instance) {
      analytics = instance
      try {
        // Pending invitations from earlier pages or other tabs go out now.
        outbox ??= open()
        outbox.flush()
        for (const [type, listener] of listeners) globalThis.addEventListener?.(type, listener)
      } catch (error) {
        log('error', `could not open the outbox: ${error}`)
      }
      return Promise.resolve()
    },
    unload() {
      for (const [type, listener] of listeners) globalThis.removeEventListener?.(type, listener)
      outbox?.stop()
    },
    track,
  }
}
