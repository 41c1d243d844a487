/**
 * Outbox: every valid invitation is stored before its first request and removed only once Trustpilot
 * accepted it or refused it for good. It owns retries (backoff with jitter, Retry-After, bounded in
 * attempts and age), dedupe (one invitation per order per browser) and the hand-off between tabs.
 *
 * Between tabs, a lease stored with each entry ("mine until T", written before its request leaves)
 * and Web Locks (one per entry while a tab claims it, one per page while it has requests out: its
 * "owner lock") keep an invitation from being sent twice, and let a later page finish what a dead
 * page started within LEFT_LEASE_MS. docs/delivery.md tells that story once, with why each guard is
 * there ("Tabs", "A lease holds only while its page lives"); leaseEnd() below is its rule.
 *
 * The courier (courier.ts) sends; this file decides when: retries, timers, and stored entries other
 * pages left. The delivery module loads it only once one of those is needed.
 */
import { type CourierOptions, idOf, type OutboxCourier } from './courier.js'
import { DeliveryAbandonedError, type RetryableError } from './errors.js'
import { entryLockName, ownerLockName } from './keys.js'
import type { Invitation } from './mapping.js'
import type { ResolvedSettings } from './settings.js'
import { type OutboxEntry, pruneAndListPending } from './store.js'

/** How many invitations may wait at once; the oldest is dropped (and reported) past this. */
export const MAX_PENDING = 50
const BACKOFF_BASE_MS = 1_000
const BACKOFF_CAP_MS = 10 * 60_000
/**
 * How long a lease holds once its page no longer holds its owner lock: covers the moment between a
 * page writing a lease and being granted the lock, and a leaving page's last request still landing.
 */
export const LEFT_LEASE_MS = 2_000
/** setTimeout's delay is a signed 32-bit number of milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface Outbox {
  /** Stores the invitation (with this page's lease) and starts its first request in a microtask. */
  submit(invitation: Invitation): void
  /** Sends whatever is due (page load, timer). */
  flush(): void
  /** The browser is back online: what waited out a backoff goes now (leases still hold). */
  retryNow(): void
  /**
   * The page is going away (pagehide) or came back (pageshow). While it goes, requests that fail are
   * left as they are stored: the failure is most likely the page's own teardown, while the keepalive
   * request itself may still reach Trustpilot, so the lease must keep other pages off it.
   */
  setLeaving(leaving: boolean): void
  /** Stops this page's timer (plugin unloaded). What is stored stays for the next page. */
  stop(): void
  /** The courier's `retry`: a transient failure, whose next attempt this schedules (or gives up). */
  retry(id: string, invitation: Invitation, error: RetryableError): void
  /** The courier's `settled`: a delivery ended, so the timer is set for what is stored now. */
  settled(): void
}

export interface OutboxOptions extends Omit<CourierOptions, 'transport' | 'retry' | 'settled'> {
  random?: () => number
  /** The page's courier (courier.ts): the outbox decides when, the courier sends. */
  courier: OutboxCourier
}

/** Exponential backoff with jitter: 50–100% of min(cap, base·2^(attempt−1)). */
export const backoffMs = (attempts: number, random: () => number) =>
  Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1)) * (0.5 + random() / 2)

/** Names of the Web Locks held in this origin now; undefined where Web Locks can't tell. */
export type HeldLocks = ReadonlySet<string> | undefined
type Lease = NonNullable<OutboxEntry['lease']>

/**
 * When a lease stops keeping page `me` off its entry: at once for its own lease; for another page's,
 * LEFT_LEASE_MS after it was written or its page left when that page's owner lock is free (the page
 * is done or gone), else at the lease's end (the page lives, or Web Locks can't tell).
 */
export function leaseEnd({ owner, until, since = 0 }: Lease, me: string, held: HeldLocks): number {
  if (owner === me) return 0
  if (held && !held.has(ownerLockName(owner))) return Math.min(until, since + LEFT_LEASE_MS)
  return until
}

/** The earliest time page `me` may send the entry: its backoff, or another page's lease. */
export const dueAt = (entry: OutboxEntry, me: string, held: HeldLocks): number =>
  Math.max(entry.nextAt, entry.lease ? leaseEnd(entry.lease, me, held) : 0)

/**
 * What a transient failure at time `at` leads to: another attempt at `nextAt`, or giving up, and
 * which limit was reached.
 */
export type NextAttempt =
  | { attempts: number; nextAt: number; waitMs: number }
  | { attempts: number; giveUp: 'attempts' | 'age' }

/**
 * The retry policy: attempt `entry.attempts + 1` failed at `at`. At `maxAttempts` attempts (a
 * fraction is one more) or `maxAgeHours` of age, give up; else wait the backoff, or the server's
 * Retry-After when it is longer.
 */
export function nextAttempt(
  entry: Pick<OutboxEntry, 'attempts' | 'createdAt'>,
  retryAfterMs: number | undefined,
  at: number,
  { maxAttempts, maxAgeHours }: Pick<ResolvedSettings, 'maxAttempts' | 'maxAgeHours'>,
  random: () => number,
): NextAttempt {
  const attempts = entry.attempts + 1
  if (attempts >= maxAttempts) return { attempts, giveUp: 'attempts' }
  if (at - entry.createdAt >= maxAgeHours * 3_600_000) return { attempts, giveUp: 'age' }
  const waitMs = Math.max(backoffMs(attempts, random), retryAfterMs ?? 0)
  return { attempts, nextAt: at + waitMs, waitMs }
}

export function createOutbox(options: OutboxOptions): Outbox {
  const { settings, store, report, now = Date.now, random = Math.random, locks, courier } = options
  const { owner, sending } = courier
  let timer: ReturnType<typeof setTimeout> | undefined
  let timerAt = Infinity
  /** Held locks as last seen, to time the next look (never to decide a send: that looks afresh). */
  let lastSeenLocks: HeldLocks
  /** Other pages whose owner lock this page is waiting to see released. */
  const watched = new Set<string>()
  // A stopped or leaving page starts nothing new.
  const stoppedOrLeaving = () => courier.stopped || courier.leaving

  const due = (entry: OutboxEntry, held: HeldLocks) => dueAt(entry, owner, held)

  /** Which Web Locks are held exclusively in this origin now; undefined where Web Locks can't tell. */
  async function heldLocks(): Promise<HeldLocks> {
    try {
      // Stryker disable next-line ArrayDeclaration: query() always lists what is held; the default guards odd shims
      const { held = [] } = await locks!.query()
      // Owner locks are exclusive; shared holders are pages watching for an owner to go.
      const owners = held.filter((lock) => lock.mode === 'exclusive').map((lock) => lock.name as string)
      lastSeenLocks = new Set(owners)
      return lastSeenLocks
    } catch {
      return undefined
    }
  }

  /**
   * Waits, without polling, for another page's owner lock to be free (that page is done or gone),
   * then looks at the outbox again. A shared request is granted once no page holds it exclusively.
   */
  function watchOwner(holder: string) {
    if (!locks || watched.has(holder)) return
    watched.add(holder)
    locks
      .request(ownerLockName(holder), { mode: 'shared' }, async () => {})
      .then(
        () => {
          watched.delete(holder)
          flush()
        },
        () => watched.delete(holder),
      )
  }

  function retryLater(id: string, invitation: Invitation, error: RetryableError) {
    const stored = courier.pendingEntry(id)
    if (!stored) return
    const next = nextAttempt(stored, error.retryAfterMs, now(), settings, random)
    if ('giveUp' in next) {
      const limit =
        next.giveUp === 'attempts'
          ? `gave up after ${next.attempts} attempts`
          : `gave up: older than ${settings.maxAgeHours} hours`
      const abandoned = new DeliveryAbandonedError(`${limit}; last error: ${error.message}`, { cause: error })
      return courier.giveUp(id, invitation, abandoned)
    }
    store.put({ ...stored, attempts: next.attempts, nextAt: next.nextAt, lease: undefined })
    const reason = `${error.message}; attempt ${next.attempts} failed, next in ${Math.round(next.waitMs / 1000)} s`
    report({ status: 'retrying', referenceId: id, reason, error }, invitation)
  }

  /**
   * Keeps exactly one timer, for the earliest moment something stored becomes ours to send.
   * @param entries what is stored, when the caller has just read it
   */
  function schedule(entries?: OutboxEntry[]) {
    let next = Infinity
    if (!courier.stopped) {
      for (const entry of entries ?? pruneAndListPending(store, now)) {
        if (sending.has(idOf(entry))) continue
        next = Math.min(next, due(entry, lastSeenLocks))
        // A live page's lease: look again the moment that page is done or gone. (A lease whose page
        // holds no lock needs no watch: the timer comes at its end.)
        const holder = entry.lease?.owner
        // Stryker disable next-line ConditionalExpression,LogicalOperator: this page's own leases are in `sending` (skipped above), and a lease always names its owner
        const othersLease = holder && holder !== owner
        if (othersLease && lastSeenLocks?.has(ownerLockName(holder))) watchOwner(holder)
      }
    }
    // Stryker disable next-line ConditionalExpression: re-arming the same timer behaves the same; this saves the work
    if (next === timerAt) return
    clearTimeout(timer)
    timerAt = next
    if (next < Infinity) {
      timer = setTimeout(
        () => {
          timerAt = Infinity
          flush()
        },
        Math.min(MAX_TIMER_MS, next - now()),
      )
    }
  }

  /** Claims the stored entry (writes this page's lease) and sends it, if it is still due. */
  async function claimAndDeliver(id: string) {
    const held = locks && (await heldLocks())
    courier.release(id)
    const entry = courier.pendingEntry(id)
    if (!entry || due(entry, held) > now()) return schedule()
    const claimed = { ...entry, lease: courier.lease() }
    store.put(claimed)
    await courier.carry(claimed)
  }

  function flush() {
    // A leaving page starts nothing new: it is about to die, or to sleep in the back/forward cache
    // until pageshow, which flushes again.
    if (stoppedOrLeaving()) return
    // Stryker disable next-line ConditionalExpression: without locks, heldLocks() fails into undefined, the else branch
    if (locks) void heldLocks().then(flushWith)
    else flushWith(undefined)
  }

  /** Past the cap, drops the oldest entries that no request is carrying right now. */
  function dropPastCap() {
    const pending = pruneAndListPending(store, now)
    const waiting = pending.filter((entry) => !sending.has(idOf(entry)))
    for (const old of waiting.slice(0, Math.max(0, pending.length - MAX_PENDING))) {
      courier.giveUp(
        idOf(old),
        old.invitation,
        new DeliveryAbandonedError(`outbox full (${MAX_PENDING} pending); dropped the oldest`),
      )
    }
  }

  function flushWith(held: HeldLocks) {
    if (stoppedOrLeaving()) return
    dropPastCap()
    const entries = pruneAndListPending(store, now)
    for (const entry of entries) {
      const id = idOf(entry)
      if (sending.has(id) || due(entry, held) > now()) continue
      // Ours while the lock is asked for, so neither a timer nor another flush asks twice.
      courier.reserve(id)
      const run = () => claimAndDeliver(id)
      // Held through the delivery: a tab waiting for it then finds the entry delivered or leased.
      if (locks) locks.request(entryLockName(settings.apiKey, id), run).catch(run)
      else void run()
    }
    schedule(entries)
  }

  return {
    submit(invitation) {
      courier.submit(invitation)
      // After the courier's microtask: the new entry is on its way, so never the one dropped.
      queueMicrotask(dropPastCap)
    },
    flush,
    retryNow() {
      const at = now()
      for (const entry of pruneAndListPending(store, now)) {
        // Only entries waiting out a backoff: one under a lease belongs to a tab sending it right now.
        // Stryker disable next-line ConditionalExpression,EqualityOperator: an entry already due is due at `at` too
        const backingOff = entry.nextAt > at
        if (backingOff && !entry.lease) store.put({ ...entry, nextAt: at })
      }
      flush()
    },
    setLeaving(value) {
      courier.setLeaving(value)
      // Stryker disable next-line ConditionalExpression: flush() does nothing while the page is leaving
      if (!value) flush()
    },
    stop() {
      courier.stop()
      schedule()
    },
    retry: retryLater,
    settled: () => schedule(),
  }
}
