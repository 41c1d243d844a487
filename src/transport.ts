/**
 * Transport: one HTTP POST of Trustpilot's invitation protocol, and what its answer means.
 * It knows nothing of storage or retries; it turns a response into 'created', 'needs-products' or a
 * typed error (errors.ts) that the outbox acts on.
 */
import { IntegrationDisabledError, InvitationRejectedError, RetryableError } from './errors.js'
import { type Invitation, withProducts } from './mapping.js'
import type { ResolvedSettings } from './settings.js'
import { withTimeout } from './timeout.js'

/** Which request of the protocol is owed: the first one, or the one with products after a 202. */
export type Step = 'invite' | 'products'
export type SendResult = 'created' | 'needs-products'

export interface Transport {
  /**
   * @param keepalive let the request outlive the page. Chromium can't cancel a keepalive request
   *   (an abort leaves its connection open until the server answers), so the outbox asks for it
   *   only on an invitation's first delivery, the one a buyer closing the tab would cut off.
   */
  send(invitation: Invitation, step: Step, keepalive: boolean): Promise<SendResult>
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
  const ms = seconds >= 0 && seconds < Infinity ? seconds * 1000 : Date.parse(header) - now
  // A date in the past means now; neither a number nor a date (NaN) means no advice.
  return ms >= 0 ? ms : ms < 0 ? 0 : undefined
}

/** Maps a Trustpilot status to the protocol's meaning; throws the typed error for failures. */
export function interpretStatus(status: number, step: Step, retryAfter: string | null): SendResult {
  if (status === 202 && step === 'invite') return 'needs-products'
  if (status >= 251 && status <= 253) {
    throw new IntegrationDisabledError(`Trustpilot integration disabled or domain blocked (HTTP ${status})`, { status })
  }
  if (status >= 200 && status < 300) return 'created'
  // 408: the request did not arrive in time (the relay's bodyTimeoutMs), so sending it again may work.
  if (status === 408 || status === 429 || status >= 500) {
    throw new RetryableError(`Trustpilot answered HTTP ${status}`, {
      status,
      retryAfterMs: parseRetryAfter(retryAfter),
    })
  }
  throw new InvitationRejectedError(`Trustpilot rejected the invitation (HTTP ${status})`, { status })
}

/** What a network error on Trustpilot's own host adds, while the browser is online. */
export const BLOCKED =
  'likely a content blocker (the browser is online): send through the first-party relay, analytics-plugin-trustpilot/relay'

/**
 * Browsers can't cancel a keepalive request: aborting it rejects our promise but the request goes on,
 * and may still reach Trustpilot. So a keepalive request is given this many times `timeoutMs` to
 * answer before it counts as failed, and the outbox keeps other pages off it for as long.
 */
export const KEEPALIVE_PATIENCE = 3

/** Why a path endpoint can't be resolved: no page at all, or a page whose requests say `Origin: null`. */
export const NO_PAGE_ORIGIN = 'with no page origin to resolve it against (a server render)'
export const OPAQUE_ORIGIN =
  'but the origin is opaque: a sandboxed iframe (such as a Shopify custom pixel) sends Origin: null, which the relay refuses'

/**
 * The page's origin: 'null' where it is opaque (a sandboxed frame, whatever its URL: `location` shows
 * the URL's origin, while requests say `Origin: null`; an opaque origin's `document.domain` is '',
 * and Shopify's pixel sandbox rewrites `window.origin` but not that), undefined off a page (Node,
 * Bun; Deno 1's `location` threw without --location).
 */
export function pageOrigin(): string | undefined {
  try {
    // Off a page, reading `location` throws: there is none (Node, Bun), or Deno 1 refused it.
    return globalThis.document?.domain === '' || globalThis.origin === 'null' ? 'null' : location.origin
  } catch {}
}

/**
 * Where invitations are posted. A path endpoint (settings.ts keeps it as given) is resolved against
 * the page's origin; where there is none, or it is opaque, no request could reach the shop's relay,
 * and the TypeError says why: a condition no retry changes.
 */
export function invitationUrl({ endpoint, apiKey }: Pick<ResolvedSettings, 'endpoint' | 'apiKey'>, origin?: string) {
  const url = `${endpoint}/api/${encodeURIComponent(apiKey)}/invitation`
  if (/^https?:/.test(endpoint)) return url
  if (!origin || origin === 'null') {
    throw new TypeError(`Trustpilot: setting "endpoint" is a path, ${origin ? OPAQUE_ORIGIN : NO_PAGE_ORIGIN}`)
  }
  return origin + url
}

/**
 * Only a browser page can tell a blocked request: `navigator.onLine` means something in a window.
 * Node, Deno, Bun and workers have no `document`, and some of them no `onLine` (undefined).
 */
const onlinePage = () => !!globalThis.document && navigator.onLine

/** The default transport: speaks Trustpilot's HTTP protocol with fetch. */
export function apiTransport(settings: ResolvedSettings): Transport {
  return {
    async send(invitation, step, wantKeepalive) {
      const url = invitationUrl(settings, pageOrigin())
      // Content blockers stop Trustpilot's own host (EasyPrivacy, Disconnect's list), not the shop's.
      const trustpilotsHost = /(^|\.)trustpilot\.com$/.test(new URL(url).hostname)
      const body = JSON.stringify(step === 'invite' ? invitation.body : withProducts(invitation))
      // The budget counts bytes on the wire: UTF-8, which is how a Blob holds a string.
      const size = new Blob([body]).size
      const keepalive = wantKeepalive && keepaliveBytesInFlight + size <= KEEPALIVE_QUOTA
      const abort = new AbortController()
      if (keepalive) keepaliveBytesInFlight += size
      try {
        const { status, headers } = await withTimeout(
          fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            credentials: 'include',
            body,
            keepalive,
            // Aborting a keepalive request would only hide it from us, not stop it.
            signal: keepalive ? undefined : abort.signal,
          }).catch((error: TypeError) => {
            // fetch rejects with a TypeError for network failures (and with an AbortError only once
            // we gave up on it, which no one hears of any more).
            // A page online, and no answer from Trustpilot's own host: a blocker is the likely cause.
            const blocked = trustpilotsHost && onlinePage()
            throw new RetryableError(`network error: ${error.message}${blocked ? `; ${BLOCKED}` : ''}`, {
              cause: error,
            })
          }),
          settings.timeoutMs * (keepalive ? KEEPALIVE_PATIENCE : 1),
          'no answer from Trustpilot',
          () => abort.abort(),
        )
        return interpretStatus(status, step, headers.get('Retry-After'))
      } finally {
        if (keepalive) keepaliveBytesInFlight -= size
      }
    },
  }
}
