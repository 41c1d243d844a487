/**
 * Outbox: every valid invitation is stored before its first request and removed only once Trustpilot
 * accepted it or refused it for good. It owns retries (backoff with jitter, Retry-After, bounded in
 * attempts and age), dedupe (one invitation per order per browser) and the hand-off between tabs.
 *
 * Between tabs, two guards keep an invitation from being sent twice:
 * - a lease stored with the entry: the tab sending it writes "mine until T" synchronously, before its
 *   request leaves, so a fresh invitation is on the wire before `track` resolves and other tabs
 *   leave it alone (an async lock could not be granted in time on a page that is going away);
 * - a Web Lock per entry, held while a tab claims and sends an entry it found pending, so two tabs
 *   starting on the same stored outbox cannot both claim it. Where Web Locks are missing, the lease
 *   alone is the guard.
 */
import { DeliveryAbandonedError, RetryableError } from './errors'
import type { Invitation } from './mapping'
import type { ResolvedSettings } from './settings'
import type { OutboxEntry, OutboxState, Store } from './store'
import type { Transport } from './transport'

/** How many invitations may wait at once; the oldest is dropped (and reported) past this. */
export const MAX_PENDING = 50
/** How many delivered orders are remembered for dedupe, and for how long. */
export const MAX_REMEMBERED = 500
export const REMEMBER_MS = 30 * 24 * 3_600_000
const BACKOFF_BASE_MS = 1_000
const BACKOFF_CAP_MS = 10 * 60_000
/** setTimeout's delay is a signed 32-bit number of milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1

export type DeliveryEvent =
  | { type: 'sent'; referenceId: string }
  | { type: 'duplicate'; referenceId: string }
  | { type: 'retrying'; referenceId: string; error: Error; attempts: number; nextAt: number }
  | { type: 'failed'; referenceId: string; error: Error }

export interface Outbox {
  /** Stores the invitation and starts its first request before returning. */
  submit(invitation: Invitation): void
  /** Sends whatever is due (page load, back online, timer). */
  flush(): void
}

export interface OutboxOptions {
  settings: ResolvedSettings
  store: Store
  transport: Transport
  /** Told about every delivery outcome. Must not throw. */
  notify: (event: DeliveryEvent, invitation: Invitation) => void
  now?: () => number
  random?: () => number
  locks?: LockManager
}

/** Exponential backoff with jitter: 50–100% of min(cap, base·2^(attempt−1)). */
export const backoffMs = (attempts: number, random: () => number) =>
  Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1)) * (0.5 + random() / 2)

const idOf = (entry: OutboxEntry) => entry.invitation.body.referenceId

export function createOutbox(options: OutboxOptions): Outbox {
  const { settings, store, transport, notify } = options
  const now = options.now ?? Date.now
  const random = options.random ?? Math.random
  const locks = options.locks
  const owner = `${now().toString(36)}-${random().toString(36).slice(2)}`
  /** A request can last timeoutMs; the lease outlives it so no other tab steps in meanwhile. */
  const leaseMs = settings.timeoutMs + 2_000
  const lockPrefix = `analytics-plugin-trustpilot:${settings.apiKey}:`
  /** Entries this page is sending right now. */
  const sending = new Set<string>()
  /** Entries another tab holds the lock of: not retried here before the given time. */
  const heldElsewhere = new Map<string, number>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let timerAt = Number.POSITIVE_INFINITY

  /** Read, change, write: the only way state changes, so every step starts from what is stored. */
  function update<T>(change: (state: OutboxState, at: number) => T): T {
    const state = store.read()
    const result = change(state, now())
    store.write(state)
    return result
  }

  const find = (state: OutboxState, id: string) => state.entries.find((e) => idOf(e) === id)
  const remove = (state: OutboxState, id: string) => {
    state.entries = state.entries.filter((e) => idOf(e) !== id)
  }

  function remember(state: OutboxState, id: string, at: number) {
    state.sent = state.sent
      .filter(([ref, time]) => ref !== id && at - time < REMEMBER_MS)
      .concat([[id, at]])
      .slice(-MAX_REMEMBERED)
  }

  /** The earliest time this page may send the entry (unless it is sending it already). */
  const dueAt = (entry: OutboxEntry) =>
    Math.max(
      entry.nextAt,
      entry.lease && entry.lease.owner !== owner ? entry.lease.until : 0,
      heldElsewhere.get(idOf(entry)) ?? 0,
    )

  const claimable = (entry: OutboxEntry, at: number) =>
    !sending.has(idOf(entry)) &&
    dueAt(entry) <= at

  /** Sends one entry through the protocol until it is done, failed, or owed a retry. */
  async function deliver(entry: OutboxEntry): Promise<void> {
    const id = idOf(entry)
    const { invitation } = entry
    sending.add(id)
    try {
      let step = entry.step
      while ((await transport.send(invitation, step)) === 'needs-products') {
        step = 'products'
        update((state, at) => {
          const stored = find(state, id)
          if (stored) Object.assign(stored, { step, lease: { owner, until: at + leaseMs } })
        })
      }
      update((state, at) => {
        remove(state, id)
        remember(state, id, at)
      })
      notify({ type: 'sent', referenceId: id }, invitation)
    } catch (error) {
      const reason = error instanceof Error ? error : new Error(String(error))
      if (reason instanceof RetryableError) retryLater(id, invitation, reason)
      else {
        update((state) => remove(state, id))
        notify({ type: 'failed', referenceId: id, error: reason }, invitation)
      }
    } finally {
      sending.delete(id)
      schedule()
    }
  }

  function retryLater(id: string, invitation: Invitation, error: RetryableError) {
    const outcome = update((state, at): { nextAt: number; attempts: number } | string => {
      const stored = find(state, id)
      if (!stored) return 'gone'
      const attempts = stored.attempts + 1
      if (attempts >= settings.maxAttempts) {
        remove(state, id)
        return `gave up after ${attempts} attempts`
      }
      if (at - stored.createdAt >= settings.maxAgeMs) {
        remove(state, id)
        return `gave up: older than ${settings.maxAgeMs / 3_600_000} hours`
      }
      const nextAt = at + Math.max(backoffMs(attempts, random), error.retryAfterMs ?? 0)
      Object.assign(stored, { attempts, nextAt, lease: undefined })
      return { nextAt, attempts }
    })
    if (outcome === 'gone') return
    if (typeof outcome === 'string') {
      const abandoned = new DeliveryAbandonedError(`${outcome}; last error: ${error.message}`)
      notify({ type: 'failed', referenceId: id, error: abandoned }, invitation)
    } else {
      notify({ type: 'retrying', referenceId: id, error, ...outcome }, invitation)
    }
  }

  /** Keeps exactly one timer, for the earliest moment something stored becomes ours to send. */
  function schedule() {
    let next = Number.POSITIVE_INFINITY
    for (const entry of store.read().entries) {
      if (!sending.has(idOf(entry))) next = Math.min(next, dueAt(entry))
    }
    if (next === timerAt) return
    clearTimeout(timer)
    timer = undefined
    timerAt = next
    if (next === Number.POSITIVE_INFINITY) return
    timer = setTimeout(
      () => {
        timer = undefined
        timerAt = Number.POSITIVE_INFINITY
        flush()
      },
      Math.min(MAX_TIMER_MS, Math.max(0, next - now())),
    )
  }

  /** Claims one stored entry for this page (writes our lease), if it is still due and unclaimed. */
  const claim = (id: string): OutboxEntry | undefined =>
    update((state, at) => {
      const entry = find(state, id)
      if (!entry || !claimable(entry, at)) return undefined
      entry.lease = { owner, until: at + leaseMs }
      return entry
    })

  function flush() {
    const at = now()
    const due = store.read().entries.filter((entry) => claimable(entry, at))
    for (const entry of due) {
      const id = idOf(entry)
      if (!locks) {
        const claimed = claim(id)
        if (claimed) void deliver(claimed)
        continue
      }
      // ifAvailable: a held lock means another tab is sending this entry right now; come back
      // once a lease would have run out rather than wait in line for the lock.
      locks
        .request(lockPrefix + id, { ifAvailable: true }, async (lock) => {
          if (!lock) {
            heldElsewhere.set(id, now() + leaseMs)
            return schedule()
          }
          heldElsewhere.delete(id)
          const claimed = claim(id)
          if (claimed) await deliver(claimed)
        })
        .catch(() => {})
    }
    schedule()
  }

  function submit(invitation: Invitation) {
    const id = invitation.body.referenceId
    let dropped: OutboxEntry[] = []
    const entry = update((state, at): OutboxEntry | undefined => {
      if (find(state, id) || state.sent.some(([ref]) => ref === id)) return undefined
      const fresh: OutboxEntry = {
        invitation,
        step: 'invite',
        attempts: 0,
        createdAt: at,
        nextAt: at,
        lease: { owner, until: at + leaseMs },
      }
      state.entries.push(fresh)
      dropped = state.entries.splice(0, Math.max(0, state.entries.length - MAX_PENDING))
      return fresh
    })
    if (entry) void deliver(entry)
    else notify({ type: 'duplicate', referenceId: id }, invitation)
    for (const old of dropped) {
      const error = new DeliveryAbandonedError(`outbox full (${MAX_PENDING} pending); dropped the oldest`)
      notify({ type: 'failed', referenceId: idOf(old), error }, old.invitation)
    }
  }

  return { submit, flush }
}
