/**
 * Durable state of the outbox, in localStorage so every tab of the shop and every later page sees it.
 *
 * One key per order — `analytics-plugin-trustpilot:{integrationKey}:{referenceId}` — holding either
 * the pending invitation or, once delivered, a small tombstone `{"sent": time}` that dedupes later
 * attempts. One key per order matters: tabs write concurrently, and a single shared key would let
 * one tab's write silently drop another tab's invitation.
 *
 * localStorage may be missing (sandboxed iframes, some privacy modes), throw, be full, or hold data
 * that another version or script wrote. Any of these switches this page to an in-memory copy:
 * invitations are still delivered while the page lives, and the host page never sees an exception.
 */
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
  /** A tab that is sending this entry, and until when other tabs must leave it alone. */
  lease?: { owner: string; until: number }
}

type StoredRecord = OutboxEntry | { sent: number }

export interface Store {
  /** Pending entries; also forgets delivered orders past the dedupe bounds. */
  pending(): OutboxEntry[]
  /** The pending entry, 'sent' for a delivered order, or undefined. */
  get(referenceId: string): OutboxEntry | 'sent' | undefined
  put(entry: OutboxEntry): void
  markSent(referenceId: string, at: number): void
  remove(referenceId: string): void
}

export const PREFIX = 'analytics-plugin-trustpilot:'
/** How many delivered orders are remembered for dedupe, and for how long. */
export const MAX_REMEMBERED = 500
export const REMEMBER_MS = 30 * 24 * 3_600_000

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isString = (v: unknown): v is string => typeof v === 'string'
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * Enough of the shape to send it and schedule it. Deeper junk (say, a product that is not an object)
 * can only have been written by hand, and Trustpilot answering 4xx to it is the right outcome.
 */
function isEntry(value: unknown): value is OutboxEntry {
  const invitation = isObject(value) && value.invitation
  const body = isObject(invitation) && invitation.body
  return (
    isObject(body) &&
    isString(body.recipientEmail) &&
    isString(body.referenceId) &&
    Array.isArray((invitation as Record<string, unknown>).products) &&
    Array.isArray((invitation as Record<string, unknown>).productSkus) &&
    ((value as OutboxEntry).step === 'invite' || (value as OutboxEntry).step === 'products') &&
    [(value as OutboxEntry).attempts, (value as OutboxEntry).createdAt, (value as OutboxEntry).nextAt].every(isTime)
  )
}

/** Parses one stored value; undefined when it is not something this version wrote. */
export function parseRecord(raw: string): StoredRecord | undefined {
  let data: unknown
  try {
    data = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (isObject(data) && isTime(data.sent) && Object.keys(data).length === 1) return { sent: data.sent }
  return isEntry(data) ? data : undefined
}

/** A Storage kept in this page's memory: where localStorage can't be used. */
function memoryStorage(items = new Map<string, string>()): Storage {
  return {
    get length() {
      return items.size
    },
    key: (index) => [...items.keys()][index] ?? null,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
    clear: () => items.clear(),
  }
}

/** Opens the store for one integration key; `warn` receives one line per storage problem met. */
export function createStore(apiKey: string, warn: (message: string) => void, now = Date.now): Store {
  const prefix = `${PREFIX}${encodeURIComponent(apiKey)}:`
  const keyOf = (referenceId: string) => prefix + encodeURIComponent(referenceId)
  let storage: Storage
  let inMemory = false

  /** Runs `use` on localStorage; if it throws, moves this page to memory (keeping what it can read). */
  function guarded<T>(use: () => T, why: string): T {
    try {
      return use()
    } catch (error) {
      if (inMemory) throw error // memory storage doesn't throw; don't mask a bug as a storage problem
      warn(`localStorage ${why}; pending invitations are kept in memory for this page only`)
      const copy = new Map<string, string>()
      try {
        for (const key of ours()) copy.set(key, storage.getItem(key) as string)
      } catch {
        // Unreadable as well: start empty.
      }
      storage = memoryStorage(copy)
      inMemory = true
      return use()
    }
  }

  try {
    storage = globalThis.localStorage
    storage.getItem(prefix)
  } catch {
    storage = memoryStorage()
    inMemory = true
  }

  function ours(): string[] {
    const found: string[] = []
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i)
      if (key?.startsWith(prefix)) found.push(key)
    }
    return found
  }

  const write = (key: string, value?: string) =>
    guarded(
      () => (value === undefined ? storage.removeItem(key) : storage.setItem(key, value)),
      'refused a write (full or blocked)',
    )

  function load(key: string): StoredRecord | undefined {
    const raw = guarded(() => storage.getItem(key), 'could not be read')
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
      for (const key of guarded(ours, 'could not be listed')) {
        const record = load(key)
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
      const record = load(keyOf(referenceId))
      return record && 'sent' in record ? 'sent' : record
    },
    put(entry) {
      write(keyOf(entry.invitation.body.referenceId), JSON.stringify(entry))
    },
    markSent(referenceId, at) {
      write(keyOf(referenceId), JSON.stringify({ sent: at }))
    },
    remove(referenceId) {
      write(keyOf(referenceId))
    },
  }
}
