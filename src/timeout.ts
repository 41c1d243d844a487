import { RetryableError, TimeoutError } from './errors.js'

/**
 * Waits for `promise` at most `ms`; past that, rejects with an error saying what was awaited: a
 * RetryableError, or a TimeoutError for a wait that is not retried (`retried: false`). Every wait
 * on the network goes through here, so none can stall the outbox.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
  retried = true,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Reject first, so the race reports the timeout rather than what onTimeout causes.
        const message = `${what} within ${ms} ms`
        reject(retried ? new RetryableError(message) : new TimeoutError(message))
        onTimeout?.()
      }, ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
