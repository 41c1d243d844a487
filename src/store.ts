/**
 * Durable state of the outbox: pending invitations and the memory of orders already sent, kept in
 * localStorage under one key per integration key so every tab of the shop sees the same state.
 *
 * localStorage may be missing (sandboxed iframes, some privacy modes), throw, be full, or hold data
 * that another version or another script wrote. Any of these switches this page to an in-memory copy:
 * invitations are still delivered while the page lives, and the host page never sees an exception.
 */
import type { Invitation } from './mapping'
import type { Step } from './transport'

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

export interface OutboxState {
  entries: OutboxEntry[]
  /** Orders already delivered (referenceId → time), so a reload or a second tab doesn't resend. */
  sent: Array<[referenceId: string, at: number]>
}

export interface Store {
  read(): OutboxState
  write(state: OutboxState): void
}

export const storageKey = (apiKey: string) => `analytics-plugin-trustpilot:${apiKey}`

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isString = (v: unknown): v is string => typeof v === 'string'
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

function isEntry(value: unknown): value is OutboxEntry {
  if (!isObject(value) || !isObject(value.invitation)) return false
  const { body, products, productSkus } = value.invitation
  return (
    isObject(body) &&
    isString(body.recipientEmail) &&
    isString(body.referenceId) &&
    isString(body.source) &&
    Array.isArray(products) &&
    products.every(isObject) &&
    Array.isArray(productSkus) &&
    productSkus.every(isString) &&
    (value.step === 'invite' || value.step === 'products') &&
    isTime(value.attempts) &&
    isTime(value.createdAt) &&
    isTime(value.nextAt) &&
    (value.lease === undefined ||
      (isObject(value.lease) && isString(value.lease.owner) && isTime(value.lease.until)))
  )
}

const isSent = (v: unknown): v is [string, number] =>
  Array.isArray(v) && v.length === 2 && isString(v[0]) && isTime(v[1])

/**
 * Parses stored text into a state, keeping every well-formed record and dropping the rest.
 * Returns the problem alongside, so the caller can log it once and rewrite the clean state.
 */
export function parseState(raw: string | null): { state: OutboxState; problem?: string } {
  const empty = (): OutboxState => ({ entries: [], sent: [] })
  if (raw === null) return { state: empty() }
  let data: unknown
  try {
    data = JSON.parse(raw)
  } catch {
    return { state: empty(), problem: 'is not valid JSON' }
  }
  if (!isObject(data) || !Array.isArray(data.entries) || !Array.isArray(data.sent)) {
    return { state: empty(), problem: 'does not hold an outbox' }
  }
  const entries = data.entries.filter(isEntry)
  const sent = data.sent.filter(isSent)
  const dropped = data.entries.length - entries.length + data.sent.length - sent.length
  return { state: { entries, sent }, problem: dropped ? `held ${dropped} malformed record(s)` : undefined }
}

/** Opens the store; `warn` receives one line for each storage problem met. */
export function createStore(key: string, warn: (message: string) => void): Store {
  let memory: OutboxState | undefined
  let storage: Storage | undefined
  try {
    storage = globalThis.localStorage
    storage.getItem(key)
  } catch {
    storage = undefined
  }
  if (!storage) memory = { entries: [], sent: [] }

  const fallBack = (state: OutboxState, why: string) => {
    warn(`localStorage ${why}; pending invitations are kept in memory for this page only`)
    memory = state
    return state
  }

  return {
    read() {
      if (memory) return memory
      let raw: string | null
      try {
        raw = (storage as Storage).getItem(key)
      } catch {
        return fallBack({ entries: [], sent: [] }, 'could not be read')
      }
      const { state, problem } = parseState(raw)
      if (problem) {
        warn(`stored outbox "${key}" ${problem}; ignored it`)
        this.write(state)
      }
      return state
    },
    write(state) {
      if (memory) {
        memory = state
        return
      }
      try {
        ;(storage as Storage).setItem(key, JSON.stringify(state))
      } catch {
        fallBack(state, 'refused a write (full or blocked)')
      }
    },
  }
}
