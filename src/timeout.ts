import { RetryableError } from './errors.js'

/**
 * Waits for `promise` at most `ms`; past that, rejects with a RetryableError saying what was awaited.
 * Every wait on the network goes through here, so none can stall the outbox.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // Reject first, so the race reports the timeout rather than what onTimeout causes.
        reject(new RetryableError(`${what} within ${ms} ms`))
        onTimeout?.()
      }, ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
