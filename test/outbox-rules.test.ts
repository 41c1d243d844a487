/**
 * The outbox's rules as plain functions (src/outbox.ts): when a lease ends, when an entry is due,
 * and what a failed attempt leads to. No timers, no storage, no locks: each edge is one call.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ownerLockName } from '../src/keys'
import { backoffMs, dueAt, LEFT_LEASE_MS, leaseEnd, nextAttempt } from '../src/outbox'
import type { OutboxEntry } from '../src/store'

const ME = 'me'
const OTHER = 'other'
const alive = new Set([ownerLockName(OTHER)])
const gone = new Set<string>()

describe('leaseEnd', () => {
  const lease = { owner: OTHER, since: 10_000, until: 50_000 }
  test("this page's own lease never keeps it off", () => {
    assert.equal(leaseEnd({ ...lease, owner: ME }, ME, alive), 0)
    assert.equal(leaseEnd({ ...lease, owner: ME }, ME, undefined), 0)
  })
  test("a live page's lease holds until its end", () => assert.equal(leaseEnd(lease, ME, alive), 50_000))
  test("where Web Locks can't tell, a lease holds until its end", () =>
    assert.equal(leaseEnd(lease, ME, undefined), 50_000))
  test(`a gone page's lease holds ${LEFT_LEASE_MS} ms after it was written or its page left`, () =>
    assert.equal(leaseEnd(lease, ME, gone), 10_000 + LEFT_LEASE_MS))
  test('... but never past its own end', () => assert.equal(leaseEnd({ ...lease, until: 11_000 }, ME, gone), 11_000))
  test('a lease with no `since` (an older version wrote it) counts from 0: it has ended for a gone page', () =>
    assert.equal(leaseEnd({ owner: OTHER, until: 50_000 }, ME, gone), LEFT_LEASE_MS))
  test("another page's lock held is not this owner's", () =>
    assert.equal(leaseEnd(lease, ME, new Set([ownerLockName('third')])), 10_000 + LEFT_LEASE_MS))
})

describe('dueAt', () => {
  const entry = (nextAt: number, lease?: OutboxEntry['lease']) => ({ nextAt, lease }) as OutboxEntry
  test('no lease: its backoff', () => assert.equal(dueAt(entry(7), ME, alive), 7))
  test("the later of its backoff and another page's lease", () => {
    assert.equal(dueAt(entry(7, { owner: OTHER, since: 0, until: 99 }), ME, alive), 99)
    assert.equal(dueAt(entry(500, { owner: OTHER, since: 0, until: 99 }), ME, alive), 500)
  })
  test('its own lease: its backoff alone', () =>
    assert.equal(dueAt(entry(7, { owner: ME, since: 0, until: 99 }), ME, alive), 7))
})

describe('nextAttempt', () => {
  const limits = { maxAttempts: 3, maxAgeHours: 1 }
  const half = () => 0 // jitter at its lowest: 50% of the backoff
  const full = () => 1 // at its highest: all of it
  test('the first failure: attempt 1, next after the backoff', () =>
    assert.deepEqual(nextAttempt({ attempts: 0, createdAt: 0 }, undefined, 100, limits, full), {
      attempts: 1,
      nextAt: 1_100,
      waitMs: 1_000,
    }))
  test('the backoff doubles, jitter takes it down to half', () => {
    assert.equal(
      (nextAttempt({ attempts: 1, createdAt: 0 }, undefined, 0, limits, full) as { waitMs: number }).waitMs,
      2_000,
    )
    assert.equal(
      (nextAttempt({ attempts: 1, createdAt: 0 }, undefined, 0, limits, half) as { waitMs: number }).waitMs,
      1_000,
    )
  })
  test('Retry-After wins when it is longer, not when it is shorter', () => {
    assert.equal(
      (nextAttempt({ attempts: 0, createdAt: 0 }, 30_000, 0, limits, full) as { waitMs: number }).waitMs,
      30_000,
    )
    assert.equal((nextAttempt({ attempts: 0, createdAt: 0 }, 10, 0, limits, full) as { waitMs: number }).waitMs, 1_000)
    assert.equal((nextAttempt({ attempts: 0, createdAt: 0 }, 0, 0, limits, full) as { waitMs: number }).waitMs, 1_000)
  })
  test('the attempt that reaches maxAttempts gives up; the one before does not', () => {
    assert.deepEqual(nextAttempt({ attempts: 2, createdAt: 0 }, undefined, 0, limits, full), {
      attempts: 3,
      giveUp: 'attempts',
    })
    assert.equal('giveUp' in nextAttempt({ attempts: 1, createdAt: 0 }, undefined, 0, limits, full), false)
  })
  test('maxAttempts 1: the first failure gives up', () =>
    assert.deepEqual(nextAttempt({ attempts: 0, createdAt: 0 }, undefined, 0, { ...limits, maxAttempts: 1 }, full), {
      attempts: 1,
      giveUp: 'attempts',
    }))
  test('at exactly maxAgeHours of age it gives up; a millisecond younger it does not', () => {
    assert.deepEqual(nextAttempt({ attempts: 0, createdAt: 5 }, undefined, 3_600_005, limits, full), {
      attempts: 1,
      giveUp: 'age',
    })
    assert.equal('giveUp' in nextAttempt({ attempts: 0, createdAt: 5 }, undefined, 3_600_004, limits, full), false)
  })
  test('a fraction of maxAttempts is one more attempt (2.5: the third failure gives up)', () => {
    const twoAndAHalf = { ...limits, maxAttempts: 2.5 }
    assert.equal('giveUp' in nextAttempt({ attempts: 1, createdAt: 0 }, undefined, 0, twoAndAHalf, full), false)
    assert.deepEqual(nextAttempt({ attempts: 2, createdAt: 0 }, undefined, 0, twoAndAHalf, full), {
      attempts: 3,
      giveUp: 'attempts',
    })
  })
  test('attempts are checked before age', () =>
    assert.deepEqual(nextAttempt({ attempts: 2, createdAt: 0 }, undefined, 7_200_000, limits, full), {
      attempts: 3,
      giveUp: 'attempts',
    }))
  test('the backoff is capped at 10 minutes', () => {
    const many = { maxAttempts: 100, maxAgeHours: Number.POSITIVE_INFINITY }
    assert.equal(
      (nextAttempt({ attempts: 40, createdAt: 0 }, undefined, 0, many, full) as { waitMs: number }).waitMs,
      600_000,
    )
    assert.equal(backoffMs(41, full), 600_000)
  })
})

describe('names in keys.ts', () => {
  test("an entry's Web Lock is named after its storage key, encoded alike", async () => {
    const { entryKey, entryLockName, KEY_PREFIX } = await import('../src/keys')
    assert.equal(entryKey('a:b/c', 'o/1:2'), `${KEY_PREFIX}a%3Ab%2Fc:o%2F1%3A2`)
    assert.equal(entryLockName('a:b/c', 'o/1:2'), entryKey('a:b/c', 'o/1:2'))
    // Two integration keys can't share a lock: ':' in a key is encoded.
    assert.notEqual(entryLockName('a:b', 'c'), entryLockName('a', 'b:c'))
  })
})
