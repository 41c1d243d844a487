/**
 * Destination middleware, applied as analytics-next applies it to its own destinations
 * (`applyDestinationMiddleware` in its plugins/middleware): `analytics.addDestinationMiddleware` hands
 * the functions to the plugin's `addMiddleware` (the entry keeps them), and the delivery module runs
 * them here on each order, just before mapping.
 *
 * In the order added, each gets `{ payload, integration, next }`, with `payload.obj` a copy of the
 * event; what it hands to `next` goes to the next one, and the last one's is what gets mapped.
 * `next(null)`, or returning without calling `next`, drops the order. Unlike analytics-next, which
 * lets a middleware's rejection or a hang stall the event queue, a throw or a hang here skips the
 * order: never sent unmodified, since the middleware may be the shop's consent gate.
 */
import { withTimeout } from './timeout.js'
import type { TrustpilotMiddleware, TrustpilotPayload } from './types.js'

/**
 * A wait that ran out and is not retried: destination middleware that did not finish within
 * `timeoutMs`, which skips the order. Not exported by the package: no outcome carries it.
 */
export class TimeoutError extends Error {
  override name = 'TimeoutError'
}

/** What a skipped order reports when a middleware dropped it: the reason analytics-next gives too. */
export const DROPPED = 'dropped by destination middleware'

/** The event after every middleware, or why the order is skipped. */
export type MiddlewareResult = { event: Record<string, unknown> } | { skip: string }

/** A deep copy of what analytics-next would send: its events are JSON. */
const copy = (event: unknown) => JSON.parse(JSON.stringify(event ?? {}))

async function run(event: unknown, middleware: TrustpilotMiddleware[], integration: string) {
  // Each middleware gets a copy of its own, so `event` (the page's) is never changed.
  let current = event ?? {}
  for (const fn of middleware) {
    let handed: TrustpilotPayload | null | undefined
    await fn({
      payload: { obj: copy(current) },
      integration,
      next: (payload) => {
        handed = payload
      },
    })
    // Whatever it handed last counts, as in analytics-next; nothing, null or no object drops it.
    if (typeof handed?.obj !== 'object' || handed.obj === null) return null
    current = handed.obj
  }
  return current as Record<string, unknown>
}

/**
 * Runs the middleware on `event`, all of them within `timeoutMs`. Resolves, never rejects: a
 * middleware's failure is the order's reason to be skipped.
 */
export function applyMiddleware(
  event: unknown,
  middleware: TrustpilotMiddleware[],
  integration: string,
  timeoutMs: number,
): Promise<MiddlewareResult> {
  const all = run(event, [...middleware], integration)
  // Not retried: an order whose middleware does not finish is skipped, never sent unmodified.
  return withTimeout(all, timeoutMs, 'destination middleware did not finish', undefined, TimeoutError).then(
    (result) => (result ? { event: result } : { skip: DROPPED }),
    (error: unknown) => ({
      // The error's name, not its message: reasons may go to Segment (trackOutcomes) and to the
      // console, and a shop's message could hold anything the event did.
      skip:
        error instanceof TimeoutError
          ? `${error.message}; not sent`
          : `destination middleware threw ${(error as Error)?.name ?? typeof error}; not sent`,
    }),
  )
}
