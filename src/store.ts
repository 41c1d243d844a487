/**
 * Durable state of the outbox, in localStorage so every tab of the shop and every later page sees it.
 *
 * One key per order — `analytics-plugin-trustpilot:{integrationKey}:{referenceId}` — holding either
 * the pending invitation or, once delivered, a small tombstone `{"sent": time}` that dedupes later
 * attempts. One key per order matters: tabs write concurrently, and a single shared key would let
 * one tab's write silently drop another tab's invitation.
 *
 * localStorage may be missing (sandboxed iframes, some privacy modes), throw, be full, or hold data
 * that another version or script wrote. Any of these moves this page to an in-memory copy:
 * invitations are still delivered while the page lives, and the host page never sees an exception;
 * the page is warned once that they now live only as long as it does.
 */
import { entryKey, entryKeyPrefix, KEY_PREFIX, tombstone } from './keys.js'
import type { Invitation } from './mapping.js'
import type { Step } from './transport.js'

export interface OutboxEntry {
  invitation: Invitation
  step: Step
  /** Attempts that failed with a retryable error. */
  attempts: number
  createdAt: number
  /** Not to be sent before this time (backoff, Retry-After). */
  nextAt: number
  /**
   * A page that is sending this entry, and until when other pages must leave it alone. `since` is
   * when the lease was written or its page left: where Web Locks tell which pages live, a lease
   * whose page is gone holds only briefly after that.
   */
  lease?: { owner: string; until: number; since?: number }
}

export type StoredRecord = OutboxEntry | { sent: number }

export interface Store {
  /** The storage keys of this integration key's records. */
  keys(): string[]
  /** The record under a storage key; an invalid one is dropped (with a warning) and reads as none. */
  read(key: string): StoredRecord | undefined
  /** Removes a record by its storage key. */
  forget(key: string): void
  /** The pending entry, 'sent' for a delivered order, or undefined. */
  get(referenceId: string): OutboxEntry | 'sent' | undefined
  put(entry: OutboxEntry): void
  markSent(referenceId: string, at: number): void
  remove(referenceId: string): void
  /** Whether records outlive this page: false once localStorage has failed it (memory only). */
  lasting(): boolean
}

export { KEY_PREFIX }
/** How many delivered orders are remembered for dedupe, and for how long. */
export const MAX_REMEMBERED = 500
export const REMEMBER_MS = 30 * 24 * 3_600_000

/** Number.isFinite doesn't coerce: it is true for a finite number and false for anything else. */
const isTime = Number.isFinite as (v: unknown) => v is number

/**
 * Enough of the shape to send it and schedule it. Deeper junk (say, a product that is not an object)
 * can only have been written by hand, and Trustpilot answering 4xx to it is the right outcome.
 * A missing level (no invitation, no body) throws, which parseRecord takes as "not ours".
 */
const isEntry = (e: OutboxEntry): boolean =>
  typeof e.invitation.body.recipientEmail === 'string' &&
  typeof e.invitation.body.referenceId === 'string' &&
  [e.invitation.products, e.invitation.productSkus].every(Array.isArray) &&
  (e.step === 'invite' || e.step === 'products') &&
  [e.attempts, e.createdAt, e.nextAt].every(isTime)

/**
 * Parses one stored value; undefined when it is not something this version wrote, or when nothing
 * is stored (null from localStorage, undefined from memory: neither parses to a record).
 */
export function parseRecord(raw: string | null | undefined): StoredRecord | undefined {
  try {
    const data = JSON.parse(raw as string)
    if (isTime(data.sent) && Object.keys(data).length === 1) return data
    if (isEntry(data)) return data
  } catch {
    // Not JSON, JSON null, or an object missing a level isEntry reads: not ours.
  }
  return undefined
}

/** Opens the store for one integration key; `warn` receives one line per storage problem met. */
export function createStore(apiKey: string, warn: (message: string) => void): Store {
  const prefix = entryKeyPrefix(apiKey)
  const keyOf = (referenceId: string) => entryKey(apiKey, referenceId)
  /** This page's copy of our keys, once localStorage has failed it. */
  let memory: Map<string, string> | undefined

  /**
   * Runs `local` on localStorage. The first time that throws, this page moves to memory for good,
   * keeping what it can still read, and `inMemory` runs instead.
   */
  function use<T>(local: (storage: Storage) => T, inMemory: (items: Map<string, string>) => T): T {
    if (!memory) {
      try {
        return local(localStorage)
      } catch (error) {
        memory = new Map()
        // Keep what can still be read (nothing where localStorage is missing or refuses every call).
        try {
          for (const key of ours(localStorage)) memory.set(key, localStorage.getItem(key) as string)
        } catch {}
        // Once per page, since a buyer's invitations now end with it. Off a page (a server, a
        // worker) there is no page to outlive, and nothing to say.
        if (globalThis.document) {
          warn(
            `localStorage failed (${(error as Error)?.name}); pending invitations are kept in memory for this page only, and end with it`,
          )
        }
      }
    }
    return inMemory(memory)
  }

  function ours(storage: Storage): string[] {
    const keys: string[] = []
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i)
      if (key?.startsWith(prefix)) keys.push(key)
    }
    return keys
  }

  /** Writes `value` (JSON, so never empty) under `key`, or removes the key when there is none. */
  const write = (key: string, value?: string) =>
    use(
      (storage) => (value ? storage.setItem(key, value) : storage.removeItem(key)),
      (items) => (value ? items.set(key, value) : items.delete(key)),
    )

  function read(key: string): StoredRecord | undefined {
    const raw = use(
      (storage) => storage.getItem(key),
      (items) => items.get(key),
    )
    // A key that holds nothing is no record, and nothing to warn about. (Checked first: every new
    // order asks, and parsing nothing costs a thrown exception.)
    if (raw == null) return undefined
    const record = parseRecord(raw)
    if (!record) {
      warn(`stored record "${key}" is not valid; ignored it`)
      write(key)
    }
    return record
  }

  return {
    keys: () => use(ours, (items) => [...items.keys()]),
    read,
    forget: (key) => write(key),
    get(referenceId) {
      const record = read(keyOf(referenceId))
      return record && 'sent' in record ? 'sent' : record
    },
    put(entry) {
      write(keyOf(entry.invitation.body.referenceId), JSON.stringify(entry))
    },
    markSent(referenceId, at) {
      write(keyOf(referenceId), tombstone(at))
    },
    remove(referenceId) {
      write(keyOf(referenceId))
    },
    lasting: () => !memory,
  }
}

/**
 * Forgets delivered orders past the dedupe bounds, then lists the pending entries, oldest first. Only the
 * outbox asks (the courier looks up one order at a time), so an order page's bundle leaves it out.
 */
export function pruneAndListPending(store: Store, now = Date.now): OutboxEntry[] {
  const entries: OutboxEntry[] = []
  const tombstones: Array<[string, number]> = []
  for (const key of store.keys()) {
    const record = store.read(key)
    if (!record) continue
    if (!('sent' in record)) entries.push(record)
    else if (now() - record.sent > REMEMBER_MS) store.forget(key)
    else tombstones.push([key, record.sent])
  }
  // Past the bound, the oldest are forgotten.
  for (const [key] of tombstones.sort((a, b) => b[1] - a[1]).slice(MAX_REMEMBERED)) store.forget(key)
  return entries.sort((a, b) => a.createdAt - b.createdAt)
}
