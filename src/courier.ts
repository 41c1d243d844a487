/**
 * Courier: takes one stored invitation through Trustpilot's protocol until it is sent, refused for
 * good, or owed a retry, holding this page's owner lock while it has requests out. It is the part of
 * the outbox an order page needs when all goes well, so it ships in the delivery module; what follows
 * a transient failure (backoff, timers, entries other pages left) is outbox.ts, loaded when that
 * happens. The outbox (outbox.ts) explains leases and owner locks.
 */
import { RetryableError } from './errors.js'
import { ownerLockName } from './keys.js'
import type { Invitation } from './mapping.js'
import type { ResolvedSettings } from './settings.js'
import type { OutboxEntry, Store } from './store.js'
import { KEEPALIVE_PATIENCE, type Transport } from './transport.js'
import type { TrustpilotOutcome } from './types.js'

/** The reason for an order this browser already invited, or is inviting: the same order again. */
export const ALREADY_INVITED = 'already invited or pending'

/** What a page that stores nothing says, as it goes, of each invitation it could not finish. */
export const KEPT_IN_MEMORY = 'kept in memory only (localStorage failed): lost if this page does not come back'

/**
 * How long a lease outlives its request's own timeout: the time between a request timing out and
 * its page writing what comes next, in which no other page should step in.
 */
export const LEASE_MARGIN_MS = 2_000

/** How long a network failure waits to learn whether it was the page's own unload. */
const UNLOAD_GRACE_MS = 100

export interface CourierOptions {
  settings: ResolvedSettings
  store: Store
  transport: Transport
  /** Told about every outcome, with the invitation it concerns. Must not throw. */
  report: (outcome: TrustpilotOutcome, invitation: Invitation) => void
  now?: () => number
  locks?: LockManager
  /** A transient failure: whoever decides when (the outbox) schedules the next attempt. */
  retry(id: string, invitation: Invitation, error: RetryableError): void
  /** One delivery ended, whatever its end: time to look at what is stored again. */
  settled(): void
}

/** What the delivery module uses of the courier: hand it an invitation, tell it about the page. */
export interface Courier {
  /** Stores the invitation (with this page's lease) and starts its first request in a microtask. */
  submit(invitation: Invitation): void
  setLeaving(leaving: boolean): void
  stop(): void
}

/** The rest, which only the outbox uses: who this page is, what it is sending, one delivery. */
export interface OutboxCourier extends Courier {
  /** This page's name in leases. */
  readonly owner: string
  /** Entries this page is sending right now (or waiting for the lock of). */
  readonly sending: ReadonlySet<string>
  readonly leaving: boolean
  readonly stopped: boolean
  /** Counts an entry as this page's while the outbox asks for its lock; `release` when that is over. */
  reserve(id: string): void
  release(id: string): void
  /** "Mine until …", for an entry this page is about to send. */
  lease(first?: boolean): NonNullable<OutboxEntry['lease']>
  /** The stored entry, if it is still pending (not delivered, not given up, not corrupt). */
  pendingEntry(id: string): OutboxEntry | undefined
  /** Removes an entry for good and reports why: the one way an invitation ends in `failed`. */
  giveUp(id: string, invitation: Invitation, error: Error): void
  /** Sends one entry through the protocol until it is done, failed, or owed a retry. */
  carry(entry: OutboxEntry): Promise<void>
}

export const idOf = (entry: OutboxEntry) => entry.invitation.body.referenceId

export function createCourier({
  settings,
  store,
  transport,
  report,
  now = Date.now,
  locks,
  retry,
  settled,
}: CourierOptions): OutboxCourier {
  /** This page's name in leases and its owner lock: unique per page. */
  // Stryker disable next-line MethodExpression: without the slice the name is as unique, only longer
  const owner = Math.random().toString(36).slice(2)
  const sending = new Set<string>()
  let leaving = false
  let stopped = false

  /**
   * This page's owner lock: held while it has requests out and is not leaving, so other pages can
   * tell its leases from a dead page's.
   */
  let releaseOwnerLock: (() => void) | undefined
  let ownerLockAsked = false
  const wantOwnerLock = () => sending.size > 0 && !leaving && !stopped
  function updateOwnerLock() {
    if (!wantOwnerLock()) {
      releaseOwnerLock?.()
      releaseOwnerLock = undefined
    } else if (locks && !releaseOwnerLock && !ownerLockAsked) {
      ownerLockAsked = true
      locks
        .request(ownerLockName(owner), () => {
          ownerLockAsked = false
          // No longer wanted by the time it was granted: let it go at once.
          if (!wantOwnerLock()) return
          return new Promise<void>((release) => {
            releaseOwnerLock = release
          })
        })
        .catch(() => {
          ownerLockAsked = false
        })
    }
  }

  const courier: OutboxCourier = {
    owner,
    sending,
    get leaving() {
      return leaving
    },
    get stopped() {
      return stopped
    },
    reserve: (id) => void sending.add(id),
    release: (id) => void sending.delete(id),

    /**
     * "Mine until …": outlives the request, so no other tab steps in meanwhile. A first delivery goes
     * with keepalive, which gets KEEPALIVE_PATIENCE times the timeout.
     */
    lease(first) {
      const at = now()
      return { owner, since: at, until: at + settings.timeoutMs * (first ? KEEPALIVE_PATIENCE : 1) + LEASE_MARGIN_MS }
    },

    pendingEntry(id) {
      const stored = store.get(id)
      return stored === 'sent' ? undefined : stored
    },

    giveUp(id, invitation, error) {
      store.remove(id)
      report({ status: 'failed', referenceId: id, reason: error.message, error }, invitation)
    },

    submit(invitation) {
      const id = invitation.body.referenceId
      if (store.get(id)) {
        return report({ status: 'skipped', referenceId: id, reason: ALREADY_INVITED }, invitation)
      }
      const at = now()
      const entry: OutboxEntry = {
        invitation,
        step: 'invite',
        attempts: 0,
        createdAt: at,
        nextAt: at,
        lease: courier.lease(true),
      }
      store.put(entry)
      // Sent in a microtask: on the wire before analytics-next resolves `track`, but after the plugin
      // returned, so the shop's own task pays only for mapping and storing.
      sending.add(id)
      updateOwnerLock()
      queueMicrotask(() => void courier.carry(entry))
    },

    async carry(entry) {
      const id = idOf(entry)
      const { invitation } = entry
      const first = !entry.attempts
      sending.add(id)
      updateOwnerLock()
      try {
        // Where nothing outlives the page, a 202 answered after it left could never be followed up:
        // the first request carries the products already, as Trustpilot's own plugins send them once
        // asked (docs/delivery.md, "Without storage").
        const answer = await transport.send(invitation, store.lasting() ? entry.step : 'products', first)
        if (answer === 'needs-products') {
          // Remember the 202: a later page owes only the products request.
          const stored = courier.pendingEntry(id)
          if (stored) store.put({ ...stored, step: 'products', lease: courier.lease(first) })
          await transport.send(invitation, 'products', first)
        }
        store.markSent(id, now())
        report({ status: 'sent', referenceId: id, reason: 'accepted by Trustpilot' }, invitation)
      } catch (error) {
        const retryable = error instanceof RetryableError
        // Chromium rejects a page's fetches (keepalive ones too, though they still leave) just before
        // it fires pagehide. Wait a moment: if the page is leaving, or gone, the stored lease stays
        // and keeps other pages off a request that may yet reach Trustpilot.
        if (retryable && error.status === undefined) await new Promise((wake) => setTimeout(wake, UNLOAD_GRACE_MS))
        if (leaving) return
        if (retryable) retry(id, invitation, error)
        else courier.giveUp(id, invitation, error instanceof Error ? error : new Error(String(error)))
      } finally {
        sending.delete(id)
        updateOwnerLock()
        settled()
      }
    },

    setLeaving(value) {
      leaving = value
      // Nothing stored outlives this page: say so of every invitation that is not on the wire whole
      // in a first request (keepalive, which outlives the page), before the page goes.
      if (value && !store.lasting()) {
        for (const key of store.keys()) {
          const record = store.read(key)
          if (!record || 'sent' in record || (sending.has(idOf(record)) && !record.attempts)) continue
          report({ status: 'retrying', referenceId: idOf(record), reason: KEPT_IN_MEMORY }, record.invitation)
        }
      }
      if (value && locks) {
        // Leases this page holds now count from its leaving: requests already on the wire get
        // LEFT_LEASE_MS to land before a later page takes over.
        for (const id of sending) {
          const stored = courier.pendingEntry(id)
          if (stored?.lease?.owner === owner) store.put({ ...stored, lease: { ...stored.lease, since: now() } })
        }
      }
      updateOwnerLock()
    },

    stop() {
      stopped = true
      updateOwnerLock()
    },
  }

  return courier
}

/** What the courier's callbacks go to once it is here: the outbox (outbox.ts). */
export type RetryScheduler = Pick<CourierOptions, 'retry' | 'settled'>

/**
 * The courier's `retry`: a transient failure goes to the outbox, which schedules the next attempt. The
 * first one loads the outbox; if it can't load, the invitation stays stored as it is, and the outcome
 * says why (going back online, a later order or a later page tries again).
 * @param loaded the outbox, once it is here
 */
export function handOverRetries(
  loaded: () => RetryScheduler | undefined,
  loadOutbox: () => Promise<RetryScheduler>,
  report: CourierOptions['report'],
): CourierOptions['retry'] {
  return (id, invitation, error) => {
    const outbox = loaded()
    if (outbox) return outbox.retry(id, invitation, error)
    loadOutbox().then(
      (ready) => {
        ready.retry(id, invitation, error)
        // The delivery ended before the outbox was here: its first look at what is stored.
        ready.settled()
      },
      (problem: Error) =>
        report(
          { status: 'retrying', referenceId: id, reason: `${error.message}; ${problem.message}`, error },
          invitation,
        ),
    )
  }
}
