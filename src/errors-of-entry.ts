/**
 * Stands in for errors.ts inside the delivery bundle (esbuild.config.mjs swaps it in). The delivery
 * module is only ever imported by the entry, which has run errors.ts and left its classes under
 * ERRORS_KEY: using those keeps `instanceof` true for the classes a shop imports, and leaves the
 * classes out of the module's bytes.
 */
import type * as Errors from './errors.js'
import { ERRORS_KEY } from './keys.js'

const entry = (globalThis as Record<symbol, unknown>)[ERRORS_KEY] as typeof Errors

export const { InvitationRejectedError, IntegrationDisabledError, RetryableError, DeliveryAbandonedError } = entry
