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
 * invitations are still delivered while the page lives, and the host page never sees an exception.
 */
import { entryKeyPrefix, KEY_PREFIX, tombstone } from './keys.js'
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

type StoredRecord = OutboxEntry | { sent: number }

export interface Store {
  /** Pending entries, oldest first; also forgets delivered orders past the dedupe bounds. */
  pending(): OutboxEntry[]
  /** The pending entry, 'sent' for a delivered order, or undefined. */
  get(referenceId: string): OutboxEntry | 'sent' | undefined
  put(entry: OutboxEntry): void
  markSent(referenceId: string, at: number): void
  remove(referenceId: string): void
}

export { KEY_PREFIX }
/** How many delivered orders are remembered for dedupe, and for how long. */
export const MAX_REMEMBERED = 500
export const REMEMBER_MS = 30 * 24 * 3_600_000

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * Enough of the shape to send it and schedule it. Deeper junk (say, a product that is not an object)
 * can only have been written by hand, and Trustpilot answering 4xx to it is the right outcome.
 */
const isEntry = (e: OutboxEntry): boolean =>
  typeof e.invitation?.body?.recipientEmail === 'string' &&
  typeof e.invitation.body.referenceId === 'string' &&
  Array.isArray(e.invitation.products) &&
  Array.isArray(e.invitation.productSkus) &&
  (e.step === 'invite' || e.step === 'products') &&
  [e.attempts, e.createdAt, e.nextAt].every(isTime)

/** Parses one stored value; undefined when it is not something this version wrote. */
export function parseRecord(raw: string): StoredRecord | undefined {
  try {
    const data = JSON.parse(raw)
    if (isTime(data.sent) && Object.keys(data).length === 1) return data
    if (isEntry(data)) return data
  } catch {
    // Not JSON, or JSON null: not ours.
  }
  return undefined
}

/** Opens the store for one integration key; `warn` receives one line per storage problem met. */
export function createStore(apiKey: string, warn: (message: string) => void, now = Date.now): Store {
  const prefix = entryKeyPrefix(apiKey)
  const keyOf = (referenceId: string) => prefix + encodeURIComponent(referenceId)
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
        // Keep what can still be read. Where nothing can (no localStorage in Node or a sandboxed
        // iframe), memory is the expected home and not worth a warning.
        try {
          for (const key of ours(localStorage)) memory.set(key, localStorage.getItem(key) as string)
          warn(
            `localStorage failed (${(error as Error)?.name}); pending invitations are kept in memory for this page only`,
          )
        } catch {}
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

  const write = (key: string, value?: string) =>
    use(
      (storage) => (value === undefined ? storage.removeItem(key) : storage.setItem(key, value)),
      (items) => (value === undefined ? items.delete(key) : items.set(key, value)),
    )

  function read(key: string): StoredRecord | undefined {
    const raw = use(
      (storage) => storage.getItem(key),
      (items) => items.get(key) ?? null,
    )
    if (raw === null) return undefined
    const record = parseRecord(raw)
    if (!record) {
      warn(`stored record "${key}" is not valid; ignored it`)
      write(key)
    }
    return record
  }

  return {
    pending() {
      const entries: OutboxEntry[] = []
      const tombstones: Array<[string, number]> = []
      for (const key of use(ours, (items) => [...items.keys()])) {
        const record = read(key)
        if (record && 'sent' in record) tombstones.push([key, record.sent])
        else if (record) entries.push(record)
      }
      tombstones.sort((a, b) => b[1] - a[1])
      tombstones.forEach(([key, at], index) => {
        if (index >= MAX_REMEMBERED || now() - at > REMEMBER_MS) write(key)
      })
      return entries.sort((a, b) => a.createdAt - b.createdAt)
    },
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
  }
}
