/**
 * Names in localStorage and Web Locks, shared by the entry (which only looks) and the delivery module
 * (which reads and writes): both bundles must agree on them, so they are written down once, here.
 */

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

/** What a delivered order leaves behind: `{"sent":time}` and nothing else. */
export const tombstone = (at: number) => JSON.stringify({ sent: at })
export const isTombstone = (raw: string | null) => /^\{"sent":[^,]*\}$/.test(raw ?? '')

declare const __VERSION__: string
/** Where the entry leaves its error classes for the delivery module: one set per page and version. */
export const ERRORS_KEY = Symbol.for(
  `analytics-plugin-trustpilot@${typeof __VERSION__ === 'string' ? __VERSION__ : 'dev'}:errors`,
)
