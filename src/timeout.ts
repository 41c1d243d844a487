import { RetryableError } from './errors.js'

/**
 * Waits for `promise` at most `ms`; past that, rejects with an error saying what was awaited: a
 * RetryableError, or an error of the class given for a wait that is not retried (middleware.ts's
 * TimeoutError). Every wait on the network goes through here, so none can stall the outbox.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
  Timeout: new (message: string) => Error = RetryableError,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Reject first, so the race reports the timeout rather than what onTimeout causes.
        const message = `${what} within ${ms} ms`
        reject(new Timeout(message))
        onTimeout?.()
      }, ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
