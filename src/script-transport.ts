/**
 * The 'script' transport: delivers through Trustpilot's own browser script (tp.min.js) instead of
 * speaking the HTTP protocol. The script is loaded lazily, on the first invitation, so a page that
 * never sees an order never loads it. Every wait is bounded by `timeoutMs`: a blocked script (ad
 * blocker, CSP) becomes a retryable error, never a stalled `track` or `ready()`.
 */
import { RetryableError, withTimeout } from './errors.js'
import { withProducts } from './mapping.js'
import type { ResolvedSettings } from './settings.js'
import type { Transport } from './transport.js'

type Tp = ((...args: unknown[]) => void) & { q?: unknown[][] }
type TpWindow = { tp?: Tp; TrustpilotObject?: string }

export function scriptTransport(settings: ResolvedSettings): Transport {
  const win = globalThis as unknown as TpWindow
  let loading: Promise<Tp> | undefined
  let registered = false
  /** Answers to `createInvitation` arrive in order; each settles the oldest waiting send. */
  const waiting: Array<(ok: boolean) => void> = []

  function load(): Promise<Tp> {
    // Trustpilot's standard snippet: a queue stub that the script drains once it runs.
    win.TrustpilotObject = 'tp'
    if (!win.tp) {
      const queue: unknown[][] = []
      win.tp = Object.assign((...args: unknown[]) => void queue.push(args), { q: queue })
    }
    const tp = win.tp
    if (!registered) {
      registered = true
      tp('register', settings.apiKey)
      tp('on', 'createInvitation', () => waiting.shift()?.(true))
    }
    const script = document.createElement('script')
    script.async = true
    script.src = `${settings.endpoint}/tp.min.js`
    const loaded = new Promise<Tp>((resolve, reject) => {
      script.onload = () => resolve(win.tp as Tp)
      script.onerror = () => reject(new RetryableError(`Trustpilot's script ${script.src} failed to load (blocked?)`))
    })
    document.head.appendChild(script)
    return withTimeout(loaded, settings.timeoutMs, "Trustpilot's script did not load")
  }

  return {
    async send(invitation) {
      loading ??= load()
      let tp: Tp
      try {
        tp = await loading
      } catch (error) {
        loading = undefined // try a fresh <script> on the next attempt
        throw error
      }
      let settle: (ok: boolean) => void = () => {}
      const answered = new Promise<boolean>((resolve) => {
        settle = resolve
      })
      waiting.push(settle)
      // A deep copy: the script mutates the object it is given, and the outbox keeps ours.
      tp('createInvitation', JSON.parse(JSON.stringify(withProducts(invitation))))
      try {
        await withTimeout(answered, settings.timeoutMs, "no answer from Trustpilot's script")
      } catch (error) {
        if (waiting.includes(settle)) waiting.splice(waiting.indexOf(settle), 1)
        throw error
      }
      return 'created'
    },
  }
}
