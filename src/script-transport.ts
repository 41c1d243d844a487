/**
 * The 'script' transport: delivers through Trustpilot's own browser script (tp.min.js) instead of
 * speaking the HTTP protocol. The script is loaded lazily, on the first invitation, so a page that
 * never sees an order never loads it. Every wait is bounded by `timeoutMs`: a blocked script (ad
 * blocker, CSP) becomes a retryable error, never a stalled `track` or `ready()`.
 *
 * What the script tells, and how it is read (its behaviour as observed, version 0.0.1121):
 * - `tp('on', 'createInvitation', cb)` listeners fire once, on the script's next answer, and are then
 *   removed. So each invitation registers its own listener just before its `createInvitation`, and
 *   invitations go to the script one at a time: an answer then belongs to the one waiting.
 * - `cb(error)` (Trustpilot answered 400 or above) is a permanent failure; `cb()` with no error is
 *   `sent`. The script calls back after Trustpilot's first answer, and also without an error when the
 *   request failed on the network (status 0): it can't tell that apart from success, so neither can we.
 * - No answer within `timeoutMs` is a retryable error, never `sent`.
 * - The script remembers the last invitation it was given (`recipientEmail + referenceId` in
 *   localStorage `tpinvid`) and silently drops a repeat of it. The outbox asks again only when an
 *   earlier attempt of this order was not answered, so before each `createInvitation` the marker is
 *   cleared if, and only if, it holds this order's pair: a retry really reaches Trustpilot.
 *
 * Pages with strict script policies (docs/browsers.md, "Strict script policies"):
 * - Trusted Types (`require-trusted-types-for 'script'`): the script's URL is made by a Trusted Types
 *   policy named `trustpilot`, this module's own (never handed out), which a page allows with CSP
 *   `trusted-types trustpilot`. It is created once per page, on the first load: a page can create a
 *   name once, and a refusal is a violation report, so a refused one is not asked for again. Where
 *   the page refuses it, the URL goes as a string (accepted where Trusted Types are not enforced, or a
 *   default policy takes it); refused too, the attempt fails with a reason naming the policy, never
 *   an uncaught TypeError.
 * - Nonce-based CSP with 'strict-dynamic': a script this module creates is trusted as this module is;
 *   it sets nothing else on the element, so nothing breaks that.
 * - Integrity-Policy: Trustpilot serves tp.min.js from one unversioned URL, so no hash can pin it, and
 *   such a page blocks it. Browsers don't tell the page why a script failed: the reason names the
 *   likely causes.
 */
import { InvitationRejectedError, RetryableError } from './errors.js'
import { withProducts } from './mapping.js'
import type { ResolvedSettings } from './settings.js'
import { withTimeout } from './timeout.js'
import type { Transport } from './transport.js'

type Tp = ((...args: unknown[]) => void) & { q?: unknown[][] }
type TpWindow = { tp?: Tp; TrustpilotObject?: string }

/** The script's localStorage key for the last invitation it was given. */
export const TP_MARKER_KEY = 'tpinvid'

/** The name of this module's Trusted Types policy: a page enforcing Trusted Types lists it in CSP `trusted-types`. */
export const TRUSTED_TYPES_POLICY = 'trustpilot'

type ScriptUrlPolicy = { createScriptURL(url: string): unknown }
type TrustedTypes = { createPolicy(name: string, rules: { createScriptURL(url: string): string }): ScriptUrlPolicy }

/** This page's `trustpilot` policy: undefined until first made, false where the page refused it. */
let policy: ScriptUrlPolicy | false | undefined

/**
 * Sets `script.src` to `url`: through the `trustpilot` policy where the browser has Trusted Types, as
 * a string elsewhere or where the page refused the policy. Throws a RetryableError naming the policy
 * where the page takes neither.
 */
function setScriptSource(script: HTMLScriptElement, url: string) {
  try {
    // Only this module holds it, and only ever gives it `{endpoint}/tp.min.js`.
    policy ??= (globalThis as { trustedTypes?: TrustedTypes }).trustedTypes?.createPolicy(TRUSTED_TYPES_POLICY, {
      createScriptURL: (given) => given,
    })
  } catch {
    policy = false
  }
  try {
    script.src = (policy ? policy.createScriptURL(url) : url) as string
  } catch (error) {
    throw new RetryableError(
      `Trusted Types refused Trustpilot's script: CSP trusted-types must list ${TRUSTED_TYPES_POLICY}`,
      { cause: error },
    )
  }
}

export function scriptTransport(settings: ResolvedSettings): Transport {
  const win = globalThis as unknown as TpWindow
  let loading: Promise<Tp> | undefined
  let registered = false
  /** The previous invitation's turn: one at a time, so each answer has one listener waiting for it. */
  let turn: Promise<unknown> = Promise.resolve()

  function load(): Promise<Tp> {
    // Trustpilot's standard snippet: a queue stub that the script drains once it runs.
    win.TrustpilotObject = 'tp'
    const queue: unknown[][] = []
    win.tp ||= Object.assign((...args: unknown[]) => void queue.push(args), { q: queue })
    if (!registered) {
      registered = true
      win.tp('register', settings.apiKey)
    }
    // A script inserted from code is async already: it never holds up the page's parsing.
    const script = document.createElement('script')
    setScriptSource(script, `${settings.endpoint}/tp.min.js`)
    const loaded = new Promise<Tp>((resolve, reject) => {
      script.onload = () => resolve(win.tp as Tp)
      // The browser doesn't say why: the likely causes, an Integrity-Policy first (no hash can pin it).
      script.onerror = () =>
        reject(
          new RetryableError(
            `Trustpilot's script ${script.src} failed to load (blocked? by the page's Integrity-Policy or CSP, or a content blocker)`,
          ),
        )
    })
    document.head.append(script)
    return withTimeout(loaded, settings.timeoutMs, "Trustpilot's script did not load").catch((error) => {
      loading = undefined // try a fresh <script> on the next attempt
      throw error
    })
  }

  return {
    async send(invitation) {
      loading ??= load()
      const tp = await loading
      /** Hands the invitation to the script and waits, bounded, for the answer its listener gets. */
      const handOver = async () => {
        // The listener is called with the error, if any: it settles `answer` with it.
        const answer = new Promise<unknown>((resolve) => tp('on', 'createInvitation', resolve))
        // The script's dedupe marker is cleared when it holds this invitation's pair (see above).
        const { recipientEmail, referenceId } = invitation.body
        try {
          if (localStorage.getItem(TP_MARKER_KEY) === recipientEmail + referenceId)
            localStorage.removeItem(TP_MARKER_KEY)
        } catch {
          // No storage: the script can't have remembered it either.
        }
        // A deep copy: the script mutates the object it is given, and the outbox keeps ours.
        tp('createInvitation', JSON.parse(JSON.stringify(withProducts(invitation))))
        const error = await withTimeout(answer, settings.timeoutMs, "no answer from Trustpilot's script")
        if (error) {
          const message = error instanceof Error ? error.message : String(error)
          throw new InvitationRejectedError(`Trustpilot rejected the invitation through its script: ${message}`)
        }
      }
      // After the previous invitation's turn, however that ended.
      turn = turn.then(handOver, handOver)
      await turn
      return 'created'
    },
  }
}
