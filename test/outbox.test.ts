import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach, describe, test } from 'node:test'
import { mapOrder } from '../src/mapping'
import { LEFT_LEASE_MS, MAX_PENDING, ownerLockName } from '../src/outbox'
import { resolveSettings } from '../src/settings'
import { createStore, MAX_REMEMBERED, parseRecord, REMEMBER_MS } from '../src/store'
import { API_KEY } from './fixtures'
import { fakeTrustpilot } from './handlers'
import { lockHub, MemoryStorage, mswServer, outboxUnderTest } from './helpers'

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
    // The other tab's timer would otherwise wake in a later test and act on its storage.
    for (const tab of tabs) tab.outbox.stop()
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
    const hub = lockHub()
    const tabs = [0, 1].map(() =>
      outboxUnderTest(
        undefined,
        createStore(API_KEY, () => {}),
        hub.page(),
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
    assert.equal(asked, 2, "the entry's lock and the page's owner lock, each asked once")
    assert.equal(activeTimers(), before)
  })

  /** Stores a pending entry under another page's lease. */
  const seedLeased = (id: string, lease: { owner: string; since: number; until: number }) =>
    storage.setItem(
      key(id),
      JSON.stringify({
        invitation: invitation(id),
        step: 'invite',
        attempts: 0,
        createdAt: lease.since,
        nextAt: lease.since,
        lease,
      }),
    )
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  /** A page that holds its owner lock until it is killed. */
  function livePage(hub: ReturnType<typeof lockHub>, owner: string) {
    const locks = hub.page()
    void locks.request(ownerLockName(owner), () => new Promise(() => {}))
    return locks
  }

  test(`a lease whose page holds no owner lock (the page is gone) holds only ${LEFT_LEASE_MS} ms after it was written`, async () => {
    const since = Date.now()
    seedLeased('gone', { owner: 'dead-page', since, until: since + 60_000 })
    const hub = lockHub()
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      hub.page(),
    )
    outbox.flush()
    await sleep(LEFT_LEASE_MS - 500)
    assert.equal(fake.requests.length, 0, 'a request written moments ago may still be landing: left alone')
    assert.equal((await settled()).status, 'sent')
    const waited = Date.now() - since
    assert.ok(waited >= LEFT_LEASE_MS && waited < LEFT_LEASE_MS + 1_000, `sent ${waited} ms after the lease`)
    assert.equal(fake.requests.length, 1)
    outbox.stop()
  })

  test("a live page's lease holds past LEFT_LEASE_MS; the moment that page dies, another page sends", async () => {
    const since = Date.now() - 10_000
    seedLeased('alive', { owner: 'live-page', since, until: Date.now() + 60_000 })
    const hub = lockHub()
    const live = livePage(hub, 'live-page')
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      hub.page(),
    )
    outbox.flush()
    await sleep(500)
    assert.equal(fake.requests.length, 0, "a live page's request is never doubled")
    const died = Date.now()
    hub.kill(live)
    assert.equal((await settled()).status, 'sent')
    assert.ok(Date.now() - died < 300, `sent ${Date.now() - died} ms after the page died`)
    outbox.stop()
  })

  test('without Web Locks a lease holds until it expires, as the only guard', async () => {
    const since = Date.now() - 10_000
    seedLeased('nolocks', { owner: 'some-page', since, until: Date.now() + 1_500 })
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
    )
    outbox.flush()
    await sleep(1_000)
    assert.equal(fake.requests.length, 0)
    assert.equal((await settled()).status, 'sent')
    outbox.stop()
  })

  test('a page holds its owner lock while sending; on pagehide it lets go and its lease counts from then', async () => {
    fake.script.push('hang')
    const hub = lockHub()
    const leaving = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      hub.page(),
    )
    leaving.outbox.submit(invitation('left'))
    await sleep(50)
    const ownerLocks = () => hub.held().filter((name) => name.startsWith('analytics-plugin-trustpilot:owner:'))
    assert.equal(ownerLocks().length, 1, 'held while the request is out')
    await sleep(300)
    const left = Date.now()
    leaving.outbox.setLeaving(true)
    await sleep(10) // a lock is released asynchronously, in a browser too
    assert.deepEqual(ownerLocks(), [], 'released on pagehide')
    const lease = JSON.parse(storage.getItem(key('left')) ?? '{}').lease
    assert.ok(lease.since >= left, 'the lease counts from the leaving')
    const next = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      hub.page(),
    )
    next.outbox.flush()
    assert.equal((await next.settled()).status, 'sent')
    const waited = Date.now() - left
    assert.ok(waited >= LEFT_LEASE_MS - 50 && waited < LEFT_LEASE_MS + 1_000, `sent ${waited} ms after the page left`)
    assert.deepEqual(leaving.events, [], 'the page that left reports nothing')
    leaving.outbox.stop()
    next.outbox.stop()
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
