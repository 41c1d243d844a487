/**
 * analytics-plugin-trustpilot: Trustpilot review invitations from Segment's analytics-next.
 *
 * ```ts
 * import { AnalyticsBrowser } from '@segment/analytics-next'
 * import { onTrustpilotOutcome, trustpilot } from 'analytics-plugin-trustpilot'
 *
 * const analytics = AnalyticsBrowser.load({ writeKey })
 * analytics.register(trustpilot({ apiKey: 'YOUR_INTEGRATION_KEY' }))
 * onTrustpilotOutcome(analytics, (outcome) => console.log(outcome.status, outcome.referenceId))
 * ```
 *
 * This file is the entry every page loads. The delivery engine (mapping, outbox, transports) is a
 * separate module, `./delivery.js`, imported on demand: a shop's bundler makes it a chunk of its own.
 *
 * @packageDocumentation
 */
import { OUTCOME_EVENT } from './keys.js'
import { createPlugin, type TrustpilotPlugin } from './plugin.js'
import { resolveSettings } from './settings.js'
import type { TrustpilotOutcome, TrustpilotSettings } from './types.js'

export type { TrustpilotPlugin } from './plugin.js'
export type { TrustpilotMiddleware, TrustpilotOutcome, TrustpilotPayload, TrustpilotSettings } from './types.js'

/**
 * Creates the Trustpilot destination plugin for analytics-next. Its `addMiddleware` is what
 * `analytics.addDestinationMiddleware('Trustpilot', …)` (or `'*'`) calls.
 * @throws TypeError naming the setting, when a setting is missing or invalid (e.g. no `apiKey`).
 */
export function trustpilot(settings: TrustpilotSettings): TrustpilotPlugin {
  // A literal specifier, so a shop's bundler (and a CDN's browser) finds the module beside this file.
  return createPlugin(resolveSettings(settings), () => import('./delivery.js'))
}

/**
 * Subscribes to outcomes, typed: the same as `analytics.on('trustpilot', listener)`, which
 * analytics-next's own types don't know about.
 */
export function onTrustpilotOutcome(
  analytics: { on(event: never, listener: never): unknown },
  listener: (outcome: TrustpilotOutcome) => void,
): void {
  ;(analytics as { on(event: string, listener: (outcome: TrustpilotOutcome) => void): unknown }).on(
    OUTCOME_EVENT,
    listener,
  )
}

export {
  DeliveryAbandonedError,
  IntegrationDisabledError,
  InvitationRejectedError,
  RetryableError,
} from './errors.js'
