/**
 * The analytics-next destination plugin: a plain object, as analytics-next's own Segment.io plugin
 * is. It wires settings → mapping → outbox → transport and reports every outcome where the host
 * page can observe it. Nothing here waits on the network: `track` maps and stores the invitation,
 * the request starts right after, and `track` has already returned.
 */
import type { Analytics, Context, Plugin } from '@segment/analytics-next'
import type { TrustpilotOutcome } from './index.js'
import { type Invitation, mapOrder, ORDER_COMPLETED } from './mapping.js'
import { createOutbox, type Outbox } from './outbox.js'
import { scriptTransport } from './script-transport.js'
import type { ResolvedSettings } from './settings.js'
import { createStore } from './store.js'
import { apiTransport } from './transport.js'

declare const __VERSION__: string

export const PLUGIN_NAME = 'Trustpilot'
export const OUTCOME_EVENT = 'trustpilot'

const LEVELS = { sent: 'info', skipped: 'warn', retrying: 'warn', failed: 'error' } as const

export function createPlugin(settings: ResolvedSettings): Plugin {
  let analytics: Analytics | undefined
  let outbox: Outbox | undefined

  /**
   * Logs to the event's context (for outcomes known while `track` runs), and to the console only
   * with debug on, since `invitation` holds the email address. Then tells the host page: a
   * `'trustpilot'` event for every outcome, and analytics-next's `'error'` event for a failure, as
   * its Segment.io plugin does.
   */
  function report(outcome: TrustpilotOutcome, invitation?: Invitation, ctx?: Context) {
    const { status, referenceId } = outcome
    const message = `${PLUGIN_NAME} ${status}${referenceId ? ` ${referenceId}` : ''}: ${outcome.reason}`
    ctx?.log(status === 'sent' ? 'info' : 'warn', message)
    if (settings.debug) console[LEVELS[status]](message, ...(invitation ? [invitation] : []))
    try {
      analytics?.emit(OUTCOME_EVENT as 'error', outcome as never)
      if (status === 'failed') analytics?.emit('error', { code: 'delivery_failure', reason: outcome.error, ctx })
    } catch (error) {
      // A listener of the host page threw: keep it from breaking delivery.
      if (settings.debug) console.error(`${PLUGIN_NAME}: an outcome listener threw`, error)
    }
  }

  function open(): Outbox {
    // Storage problems go to the console even without debug: they hold no personal data, are rare,
    // and a shop needs to know its invitations are no longer kept across pages.
    const store = createStore(settings.apiKey, (message) => console.warn(`${PLUGIN_NAME}: ${message}`))
    const transport = settings.transport === 'script' ? scriptTransport(settings) : apiTransport(settings)
    const locks = typeof navigator === 'object' ? navigator.locks : undefined
    return createOutbox({ settings, store, transport, notify: report, locks })
  }

  function track(ctx: Context): Context {
    // The hot path for every other event: one comparison, no allocation.
    if (ctx.event.event !== ORDER_COMPLETED) return ctx
    try {
      const mapped = mapOrder(ctx.event, analytics?.user().traits(), settings)
      if ('skip' in mapped) {
        report({ status: 'skipped', referenceId: mapped.referenceId, reason: mapped.skip }, undefined, ctx)
        return ctx
      }
      outbox ??= open()
      outbox.submit(mapped.invitation)
    } catch (error) {
      // Never into the host page, never into other destinations.
      ctx.log('error', `${PLUGIN_NAME}: could not handle the order: ${error}`)
    }
    return ctx
  }

  const onOnline = () => outbox?.retryNow()
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
        if (settings.debug) console.error(`${PLUGIN_NAME}: could not open the outbox`, error)
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
