/**
 * Names the entry and the bundles it loads later must agree on (the events, storage keys, Web Lock
 * names), so they are written down once, here.
 */

/** The name analytics-next knows the plugin by: in `integrations`, and to destination middleware. */
export const PLUGIN_NAME = 'Trustpilot'

/** The analytics-next event every outcome goes out as: `analytics.on('trustpilot', …)`. */
export const OUTCOME_EVENT = 'trustpilot'

/** The one event that becomes an invitation: the entry filters on it, mapping checks it. */
export const ORDER_COMPLETED = 'Order Completed'

/** Every key of the outbox starts with this; its Web Locks are named after the keys too. */
export const KEY_PREFIX = 'analytics-plugin-trustpilot:'

const keyOf = (apiKey: string) => KEY_PREFIX + encodeURIComponent(apiKey)

/** Pending invitations and delivered orders' tombstones of one integration key (store.ts). */
export const entryKeyPrefix = (apiKey: string) => `${keyOf(apiKey)}:`

/**
 * Orders the entry kept while the delivery module was not loaded yet (inbox.ts). `/` never occurs in
 * an encoded integration key or reference, so these keys can't be taken for another key's entries.
 */
export const orderKeyPrefix = (apiKey: string) => `${keyOf(apiKey)}/order:`

/** The storage key of one order's record: its pending invitation, or its tombstone (store.ts). */
export const entryKey = (apiKey: string, referenceId: string) =>
  entryKeyPrefix(apiKey) + encodeURIComponent(referenceId)

/** The Web Lock a page holds while it claims and sends one stored entry: named after its storage key. */
export const entryLockName = entryKey

/**
 * The Web Lock a page holds while it has requests out ("owner lock"): free once the page is gone.
 * `/` never starts an encoded integration key, so no entry lock (an integration key named "owner"
 * included) can have this name.
 */
export const OWNER_LOCK_PREFIX = `${KEY_PREFIX}/owner:`
export const ownerLockName = (owner: string) => OWNER_LOCK_PREFIX + owner

/** What a delivered order leaves behind: `{"sent":time}` and nothing else. */
export const tombstone = (at: number) => JSON.stringify({ sent: at })
export const isTombstone = (raw: string | null) => /^\{"sent":[^,]*\}$/.test(raw ?? '')
