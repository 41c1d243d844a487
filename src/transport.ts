/**
 * Transport: one HTTP POST of Trustpilot's invitation protocol, and what its answer means.
 * It knows nothing of storage or retries; it turns a response into 'created', 'needs-products' or a
 * typed error (errors.ts) that the outbox acts on.
 */
import {
  IntegrationDisabledError,
  InvitationRejectedError,
  RetryableError,
} from './errors'
import { type Invitation, withProducts } from './mapping'
import type { ResolvedSettings } from './settings'

/** Which request of the protocol is owed: the first one, or the one with products after a 202. */
export type Step = 'invite' | 'products'
export type SendResult = 'created' | 'needs-products'

export interface Transport {
  send(invitation: Invitation, step: Step): Promise<SendResult>
}

/**
 * Browsers cap the bodies of in-flight keepalive requests at 64 KiB in total per page; past that the
 * fetch is refused. We count what we have in flight and fall back to a normal fetch beyond it.
 */
const KEEPALIVE_QUOTA = 64 * 1024 - 1024
let keepaliveBytesInFlight = 0

/** Milliseconds from a Retry-After header (seconds or an HTTP date), if it holds either. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** Maps a Trustpilot status to the protocol's meaning; throws the typed error for failures. */
export function interpretStatus(status: number, step: Step, retryAfter: string | null): SendResult {
  if (status === 202 && step === 'invite') return 'needs-products'
  if (status >= 251 && status <= 253) throw new IntegrationDisabledError(status)
  if (status >= 200 && status < 300) return 'created'
  if (status === 429 || status >= 500) {
    throw new RetryableError(`Trustpilot answered HTTP ${status}`, status, parseRetryAfter(retryAfter))
  }
  throw new InvitationRejectedError(status)
}

/** The default transport: speaks Trustpilot's HTTP protocol with fetch. */
export function apiTransport(settings: ResolvedSettings): Transport {
  const url = `${settings.endpoint}/api/${encodeURIComponent(settings.apiKey)}/invitation`
  return {
    async send(invitation, step) {
      const body = JSON.stringify(step === 'invite' ? invitation.body : withProducts(invitation))
      // keepalive lets the request outlive the page (a buyer closing the thank-you tab).
      const keepalive = keepaliveBytesInFlight + body.length <= KEEPALIVE_QUOTA
      if (keepalive) keepaliveBytesInFlight += body.length
      const abort = new AbortController()
      const timer = setTimeout(() => abort.abort(), settings.timeoutMs)
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          credentials: 'include',
          body,
          keepalive,
          signal: abort.signal,
        })
        return interpretStatus(response.status, step, response.headers.get('Retry-After'))
      } catch (error) {
        if (!(error instanceof Error) || error.name === 'AbortError' || error instanceof TypeError) {
          throw new RetryableError(
            abort.signal.aborted
              ? `no answer from Trustpilot within ${settings.timeoutMs} ms`
              : `network error: ${(error as Error)?.message ?? error}`,
          )
        }
        throw error
      } finally {
        clearTimeout(timer)
        if (keepalive) keepaliveBytesInFlight -= body.length
      }
    },
  }
}
