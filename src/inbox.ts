/**
 * Inbox: the entry's side of storage. An order that arrives before the delivery module has loaded is
 * kept here, in localStorage, before `track` returns: if the page goes away before the module arrives
 * (or the module can't load at all), a later page loads it and delivers the order. The entry hands
 * kept orders to the delivery module, which maps them and drops them once they are in the outbox.
 *
 * It also answers the one question every page asks at load: is anything stored waiting to be
 * delivered? Only then does a page without an order load the delivery module, and it hands the kept
 * orders it found to the module as its own.
 *
 * Storage may be missing or throw (sandboxed iframes, privacy modes, a full quota): then nothing is
 * kept here and the entry holds the order in memory for this page, as the store does.
 */
import { entryKeyPrefix, isTombstone, orderKeyPrefix } from './keys.js'

/** An Order Completed as mapping reads it: the event's parts, and the user's traits at the time. */
export interface Order {
  event: {
    type?: unknown
    event?: unknown
    properties?: unknown
    integrations?: unknown
    context: { traits?: unknown; consent?: unknown }
  }
  traits: unknown
}

type EventLike = Omit<Order['event'], 'context'> & { context?: { traits?: unknown; consent?: unknown } }

/** The parts of an event that mapping reads: page, user agent and the rest are not kept. */
export const orderOf = ({ type, event, properties, integrations, context }: EventLike, traits: unknown): Order => ({
  event: { type, event, properties, integrations, context: { traits: context?.traits, consent: context?.consent } },
  traits,
})

/** Keeps the order under `id`; its key, or undefined when storage refused it. */
export function keepOrder(apiKey: string, id: string, order: Order): string | undefined {
  const key = orderKeyPrefix(apiKey) + encodeURIComponent(id)
  try {
    // JSON.stringify throws on a BigInt or a cycle in shop data, setItem on a full quota.
    localStorage.setItem(key, JSON.stringify(order))
    return key
  } catch {
    return undefined
  }
}

export function dropOrder(key: string): void {
  try {
    localStorage.removeItem(key)
  } catch {}
}

/** Runs `visit` on every key of localStorage; nothing where storage is missing or throws. */
function eachKey(visit: (key: string) => void) {
  try {
    for (let i = localStorage.length; i--; ) visit(localStorage.key(i) as string)
  } catch {}
}

/** What storage holds to deliver: orders kept by earlier pages, and whether invitations are pending. */
export interface StoredWork {
  /** Kept orders with their keys, in no particular order; ones that are not JSON are dropped. */
  orders: Array<[key: string, order: Order]>
  /** Whether an invitation is stored and not yet delivered (a tombstone doesn't count). */
  pending: boolean
}

/** Looks through storage once, at load: what an earlier page, or another tab, left to deliver. */
export function storedWork(apiKey: string): StoredWork {
  const orders = orderKeyPrefix(apiKey)
  const entries = entryKeyPrefix(apiKey)
  const work: StoredWork = { orders: [], pending: false }
  // Only our keys are read: every page runs this, beside whatever else the shop keeps in storage.
  eachKey((key) => {
    if (key.startsWith(orders)) {
      // Whatever it holds, the module maps it: one this package did not write is skipped and dropped.
      try {
        work.orders.push([key, JSON.parse(localStorage.getItem(key) as string)])
      } catch {
        dropOrder(key)
      }
    } else if (key.startsWith(entries) && !isTombstone(localStorage.getItem(key))) work.pending = true
  })
  return work
}
