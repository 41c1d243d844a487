import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, test } from 'node:test'
import { mapOrder } from '../src/mapping'
import { MAX_PENDING } from '../src/outbox'
import { resolveSettings } from '../src/settings'
import { createStore, MAX_REMEMBERED, parseRecord, REMEMBER_MS } from '../src/store'
import { API_KEY } from './fixtures'
import { fakeTrustpilot } from './handlers'
import { MemoryStorage, mswServer, outboxUnderTest, queuedLocks } from './helpers'

const fake = fakeTrustpilot()
const server = mswServer(fake)
const storage = new MemoryStorage()
before(() => {
  server.listen({ onUnhandledRequest: 'error' })
  ;(globalThis as { localStorage?: Storage }).localStorage = storage
})
after(() => {
  server.close()
  delete (globalThis as { localStorage?: Storage }).localStorage
})
beforeEach(() => {
  fake.requests.length = 0
  fake.script.length = 0
  fake.fallback = 201
  storage.clear()
  storage.failWrites = false
})
afterEach(() => {
  fake.fallback = 'protocol'
})

const invitation = (id: string) => {
  const mapped = mapOrder(
    { type: 'track', event: 'Order Completed', properties: { order_id: id, email: `${id}@x.io` } },
    {},
    resolveSettings({ apiKey: API_KEY }),
  )
  assert.ok('invitation' in mapped)
  return mapped.invitation
}
const key = (id: string) => `analytics-plugin-trustpilot:${API_KEY}:${id}`
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

describe('outbox', () => {
  test('stores the invitation before the request and a tombstone after success', async () => {
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
    )
    outbox.submit(invitation('a'))
    const stored = parseRecord(storage.getItem(key('a')) ?? '')
    assert.ok(stored && 'step' in stored && stored.step === 'invite')
    assert.equal((await settled()).status, 'sent')
    assert.deepEqual(Object.keys(JSON.parse(storage.getItem(key('a')) ?? '{}')), ['sent'])
  })

  test('the same order twice: one request, then a duplicate', async () => {
    const { outbox, events, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
    )
    outbox.submit(invitation('b'))
    await settled()
    outbox.submit(invitation('b'))
    assert.deepEqual(events.at(-1), { status: 'skipped', referenceId: 'b', reason: 'already invited or pending' })
    assert.equal(fake.requests.length, 1)
  })

  test('a second "tab" on the same storage skips an order the first one sent', async () => {
    const first = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
    )
    first.outbox.submit(invitation('c'))
    await first.settled()
    const second = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
    )
    second.outbox.submit(invitation('c'))
    assert.equal((await second.settled()).status, 'skipped')
    assert.equal(fake.requests.length, 1)
  })

  test('two "tabs" flushing one pending entry: exactly one sends it', async () => {
    storage.setItem(
      key('d'),
      JSON.stringify({
        invitation: invitation('d'),
        step: 'invite',
        attempts: 1,
        createdAt: Date.now() - 1000,
        nextAt: Date.now() - 1,
      }),
    )
    const tabs = [
      outboxUnderTest(
        undefined,
        createStore(API_KEY, () => {}),
      ),
      outboxUnderTest(
        undefined,
        createStore(API_KEY, () => {}),
      ),
    ]
    for (const tab of tabs) tab.outbox.flush()
    await Promise.race(tabs.map((t) => t.settled()))
    assert.equal(fake.requests.length, 1)
    assert.deepEqual(tabs.map((t) => t.events.length).sort(), [0, 1])
  })

  const seedPending = (id: string) =>
    storage.setItem(
      key(id),
      JSON.stringify({
        invitation: invitation(id),
        step: 'invite',
        attempts: 1,
        createdAt: Date.now() - 1000,
        nextAt: Date.now() - 1,
      }),
    )

  test('two "tabs" with Web Locks: the second waits for the lock, then finds the entry delivered', async () => {
    seedPending('w')
    const locks = queuedLocks()
    const tabs = [0, 1].map(() =>
      outboxUnderTest(
        undefined,
        createStore(API_KEY, () => {}),
        locks,
      ),
    )
    for (const tab of tabs) tab.outbox.flush()
    await Promise.race(tabs.map((t) => t.settled()))
    await new Promise((r) => setTimeout(r, 50)) // the second tab has had the lock by now
    assert.equal(fake.requests.length, 1)
    assert.deepEqual(tabs.map((t) => t.events.length).sort(), [0, 1])
  })

  test('Web Locks that refuse (opaque origins): the lease alone guards, and nothing spins', async () => {
    seedPending('r')
    const before = activeTimers()
    let asked = 0
    const refusing = {
      request: () => {
        asked++
        return Promise.reject(new DOMException('denied', 'SecurityError'))
      },
    } as unknown as LockManager
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      refusing,
    )
    outbox.flush()
    assert.equal((await settled()).status, 'sent')
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(fake.requests.length, 1)
    assert.equal(asked, 1)
    assert.equal(activeTimers(), before)
  })

  test(`more than ${MAX_PENDING} pending: the oldest idle one is dropped and reported`, async () => {
    fake.fallback = 500
    const { outbox, events } = outboxUnderTest(
      { maxAttempts: 100 },
      createStore(API_KEY, () => {}),
    )
    for (let i = 0; i < MAX_PENDING; i++) outbox.submit(invitation(`p${i}`))
    while (events.filter((e) => e.status === 'retrying').length < MAX_PENDING)
      await new Promise((r) => setTimeout(r, 10))
    outbox.submit(invitation('newest'))
    await Promise.resolve() // the cap applies in the microtask that sends
    outbox.stop()
    const failed = events.filter((e) => e.status === 'failed')
    assert.equal(failed.length, 1)
    assert.equal(failed[0]?.referenceId, 'p0')
    assert.ok(/outbox full/.test(failed[0]?.reason ?? ''))
    assert.equal(storage.getItem(key('p0')), null)
    assert.notEqual(storage.getItem(key('p1')), null)
    await new Promise((r) => setTimeout(r, 100))
  })

  test('no timer runs while the outbox is empty', async () => {
    const before = activeTimers()
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
    )
    outbox.flush()
    assert.equal(activeTimers(), before, 'flush of an empty outbox starts no timer')
    outbox.submit(invitation('t'))
    await settled()
    await new Promise((r) => setImmediate(r))
    assert.equal(activeTimers(), before, 'nothing left running after delivery')
  })
})

describe('store', () => {
  test(`remembers at most ${MAX_REMEMBERED} delivered orders, none older than 30 days`, () => {
    const now = Date.now()
    const store = createStore(
      API_KEY,
      () => {},
      () => now,
    )
    for (let i = 0; i < MAX_REMEMBERED + 5; i++) store.markSent(`s${i}`, now - i)
    store.markSent('ancient', now - REMEMBER_MS - 1)
    store.pending()
    const kept = Object.keys(Object.fromEntries(Array.from({ length: storage.length }, (_, i) => [storage.key(i), 1])))
    assert.equal(kept.length, MAX_REMEMBERED)
    assert.equal(store.get('ancient'), undefined)
    assert.equal(store.get('s0'), 'sent')
    assert.equal(store.get(`s${MAX_REMEMBERED + 1}`), undefined)
  })

  test('corrupt records are dropped with a warning', () => {
    const warnings: string[] = []
    storage.setItem(key('bad'), '{nope')
    storage.setItem(key('odd'), JSON.stringify({ sent: 'yesterday' }))
    storage.setItem('someone-else', 'untouched')
    const store = createStore(API_KEY, (m) => warnings.push(m))
    assert.deepEqual(store.pending(), [])
    assert.equal(warnings.length, 2)
    assert.match(warnings[0] ?? '', /is not valid; ignored it/)
    assert.equal(storage.getItem(key('bad')), null)
    assert.equal(storage.getItem('someone-else'), 'untouched')
  })

  test('a full storage falls back to memory, keeping what it had', () => {
    const warnings: string[] = []
    const store = createStore(API_KEY, (m) => warnings.push(m))
    store.markSent('kept', Date.now())
    storage.failWrites = true
    store.markSent('new', Date.now())
    assert.match(warnings.join(), /kept in memory for this page only/)
    assert.equal(store.get('kept'), 'sent')
    assert.equal(store.get('new'), 'sent')
  })

  test('no localStorage at all (Node, sandboxed iframes): memory', () => {
    const saved = (globalThis as { localStorage?: Storage }).localStorage
    delete (globalThis as { localStorage?: Storage }).localStorage
    try {
      const store = createStore(API_KEY, () => {})
      store.markSent('m', Date.now())
      assert.equal(store.get('m'), 'sent')
    } finally {
      ;(globalThis as { localStorage?: Storage }).localStorage = saved
    }
  })
})
