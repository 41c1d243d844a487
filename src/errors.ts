/**
 * Typed delivery errors, told apart by `name` (as analytics-next's Segment.io plugin does with
 * `RateLimitError`), so a host page can branch on `error.name` without importing classes.
 *
 * The entry exports them; the delivery module, a bundle of its own, throws them. Both import them
 * from dist/shared.js (shared.ts), one module per page, so that `instanceof` holds.
 */

/**
 * Trustpilot refused the invitation for good (a 4xx other than 429, or an error from its script):
 * sending it again won't help. `status` is undefined when it came through Trustpilot's script, which
 * doesn't tell the status.
 */
export class InvitationRejectedError extends Error {
  override name = 'InvitationRejectedError'
  constructor(
    readonly status?: number,
    why = 'rejected the invitation',
  ) {
    super(`Trustpilot ${why}${status === undefined ? '' : ` (HTTP ${status})`}`)
  }
}

/** Trustpilot answered 251–253: the integration is disabled or this shop's domain is blocked. */
export class IntegrationDisabledError extends InvitationRejectedError {
  override name = 'IntegrationDisabledError'
  constructor(status: number) {
    super(status, 'integration disabled or domain blocked')
  }
}

/**
 * A failure worth another attempt: a network error, a timeout, a 5xx or a 429. `retryAfterMs` carries
 * the server's `Retry-After`, when it sent one.
 */
export class RetryableError extends Error {
  override name = 'RetryableError'
  /** @param options `cause`: the error underneath (fetch's TypeError, a failed import's), as browsers keep it. */
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * A wait that ran out and is not retried: destination middleware that did not finish within
 * `timeoutMs`, which skips the order.
 */
export class TimeoutError extends Error {
  override name = 'TimeoutError'
}

/**
 * The outbox gave up on an invitation: too many attempts, too old, or pushed out by newer ones.
 * After a failed attempt, its `cause` is that attempt's error.
 */
export class DeliveryAbandonedError extends Error {
  override name = 'DeliveryAbandonedError'
}
