/**
 * The public error classes, told apart by `name` (as analytics-next's Segment.io plugin does with
 * `RateLimitError`), so a host page can branch on `error.name` without importing classes.
 *
 * The entry exports every one of them and nothing else lives here. The bundles loaded later throw
 * them, and import them from the entry (esbuild.config.mjs maps `./errors.js` to `./index.js`), so a
 * page evaluates one copy of each class and `instanceof` holds.
 */

/**
 * Trustpilot refused the invitation for good (a 4xx other than 429, or an error from its script):
 * sending it again won't help. `status` is undefined when it came through Trustpilot's script, which
 * doesn't tell the status.
 */
export class InvitationRejectedError extends Error {
  override name = 'InvitationRejectedError'
  declare readonly status?: number
  constructor(status?: number, why = 'rejected the invitation') {
    super(`Trustpilot ${why}${status === undefined ? '' : ` (HTTP ${status})`}`)
    this.status = status
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
  declare readonly status?: number
  declare readonly retryAfterMs?: number
  /** @param options `cause`: the error underneath (fetch's TypeError, a failed import's), as browsers keep it. */
  constructor(message: string, status?: number, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options)
    // Assigned, not declared as parameter properties: those would also be emitted as class fields.
    this.status = status
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * The outbox gave up on an invitation: too many attempts, too old, or pushed out by newer ones.
 * After a failed attempt, its `cause` is that attempt's error.
 */
export class DeliveryAbandonedError extends Error {
  override name = 'DeliveryAbandonedError'
}
