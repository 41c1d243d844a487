/**
 * The public error classes, told apart by `name` (as analytics-next's Segment.io plugin does with
 * `RateLimitError`), so a host page can branch on `error.name` without importing classes.
 *
 * The entry exports every one of them and nothing else lives here. The bundles loaded later throw
 * them, and import them from the entry (esbuild.config.mjs maps `./errors.js` to `./index.js`), so a
 * page evaluates one copy of each class and `instanceof` holds. Each takes its message whole, and its
 * optional fields as one options object: the words are written where the error is thrown (in the
 * bundles loaded later), so every page's entry carries only the classes.
 */

/** The optional fields of an error: Trustpilot's answer, and the error underneath. */
interface TrustpilotErrorOptions {
  /** Trustpilot's HTTP status, where there was an answer. */
  status?: number
  /** Trustpilot's `Retry-After`, in milliseconds, where it sent one. */
  retryAfterMs?: number
  /** The error underneath (fetch's TypeError, a failed import's, the last attempt's), as browsers keep it. */
  cause?: unknown
}

/** What the classes share: a message, and the optional fields given (each set only when given). */
class TrustpilotError extends Error {
  constructor(message: string, options?: TrustpilotErrorOptions) {
    super(message, options)
    Object.assign(this, options)
  }
}

/**
 * Trustpilot refused the invitation for good (a 4xx other than 408 and 429, or an error from its script):
 * sending it again won't help. `status` is undefined when it came through Trustpilot's script, which
 * doesn't tell the status.
 */
export class InvitationRejectedError extends TrustpilotError {
  override name = 'InvitationRejectedError'
  declare readonly status?: number
}

/** Trustpilot answered 251–253: the integration is disabled or this shop's domain is blocked. */
export class IntegrationDisabledError extends InvitationRejectedError {
  override name = 'IntegrationDisabledError'
}

/**
 * A failure worth another attempt: a network error, a timeout, a 5xx, a 408 or a 429. `retryAfterMs` carries
 * the server's `Retry-After`, when it sent one.
 */
export class RetryableError extends TrustpilotError {
  override name = 'RetryableError'
  declare readonly status?: number
  declare readonly retryAfterMs?: number
}

/**
 * The outbox gave up on an invitation: too many attempts, too old, or pushed out by newer ones.
 * After a failed attempt, its `cause` is that attempt's error.
 */
export class DeliveryAbandonedError extends TrustpilotError {
  override name = 'DeliveryAbandonedError'
}
