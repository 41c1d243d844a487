/**
 * Stands in for errors.ts and timeout.ts inside the bundles the entry loads later (dist/delivery.js,
 * outbox.js, script-transport.js; esbuild.config.mjs swaps it in). Only the entry ever imports them,
 * and it has left its error classes and timeout helper under SHARED_KEY (plugin.ts): using those keeps
 * `instanceof` true for the classes a shop imports, and leaves them out of these bundles' bytes.
 */
import type * as Errors from './errors.js'
import { SHARED_KEY } from './keys.js'
import type * as Timeout from './timeout.js'

const shared = (globalThis as Record<symbol, unknown>)[SHARED_KEY] as typeof Errors & typeof Timeout

export const {
  InvitationRejectedError,
  IntegrationDisabledError,
  RetryableError,
  DeliveryAbandonedError,
  withTimeout,
} = shared
