import assert from 'node:assert/strict'
import { afterEach, describe, test } from 'node:test'
import { entryLockName, ownerLockName } from '../src/keys'
import { LEFT_LEASE_MS, MAX_PENDING } from '../src/outbox'
import { createStore, parseRecord } from '../src/store'
import { API_KEY } from './support/fixtures'
import {
  askedOwner,
  fakeTrustpilotServer,
  fileLocalStorage,
  invitationFor,
  lockHub,
  outboxUnderTest,
  ownerLocks,
  refusingLocks,
  sleep,
  storageKeyOf,
} from './support/helpers'

const { fake } = fakeTrustpilotServer(201)
const storage = fileLocalStorage()
afterEach(() => {
  fake.fallback = 'protocol'
})

const invitation = invitationFor
const key = storageKeyOf
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

describe('outbox', () => {
  // First, while no other test has timers running in this process.
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
    // Both tabs asked for the entry's lock: the second one was kept off by it, not by luck.
    assert.equal(hub.asked().filter((name) => name === entryLockName(API_KEY, 'w')).length, 2)
  })

  test('Web Locks that refuse (opaque origins): the lease alone guards, and nothing spins', async () => {
    seedPending('r')
    const before = activeTimers()
    const refusing = refusingLocks()
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      refusing.locks,
    )
    outbox.flush()
    assert.equal((await settled()).status, 'sent')
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(fake.requests.length, 1)
    assert.equal(refusing.asked(), 2, "the entry's lock and the page's owner lock, each asked once")
    assert.equal(activeTimers(), before)
  })

  test("a fresh invitation's lease: keepalive patience (3 × timeoutMs) + 2 s from now; a claim's: timeoutMs + 2 s", async () => {
    fake.script.push('hang')
    let clock = 1_000_000
    const { outbox } = outboxUnderTest({ timeoutMs: 100 }, undefined, undefined, { now: () => clock })
    outbox.submit(invitation('leased'))
    const fresh = JSON.parse(storage.getItem(key('leased')) ?? '{}').lease
    assert.equal(fresh.since, 1_000_000)
    assert.equal(fresh.until, 1_000_000 + 300 + 2_000)
    outbox.stop()
    // A later page claims an entry that waited out its backoff.
    storage.setItem(
      key('claimed'),
      JSON.stringify({ invitation: invitation('claimed'), step: 'invite', attempts: 1, createdAt: 0, nextAt: 0 }),
    )
    fake.script.push('hang')
    clock = 2_000_000
    const later = outboxUnderTest({ timeoutMs: 100 }, undefined, undefined, { now: () => clock })
    later.outbox.flush()
    await new Promise((r) => setTimeout(r, 20))
    const claimed = JSON.parse(storage.getItem(key('claimed')) ?? '{}').lease
    assert.deepEqual([claimed.since, claimed.until], [2_000_000, 2_000_000 + 100 + 2_000])
    later.outbox.stop()
    await new Promise((r) => setTimeout(r, 350))
  })

  test('a failed attempt is stored with its count and its backoff, and the reason says when', async () => {
    fake.script.push(500)
    const clock = 5_000_000
    const { outbox, events } = outboxUnderTest({}, undefined, undefined, { now: () => clock, random: () => 1 })
    outbox.submit(invitation('backoff'))
    while (!events.length) await new Promise((r) => setTimeout(r, 5))
    outbox.stop()
    const stored = JSON.parse(storage.getItem(key('backoff')) ?? '{}')
    assert.deepEqual([stored.attempts, stored.nextAt, stored.lease], [1, clock + 1_000, undefined])
    assert.equal(events[0]?.reason, 'Trustpilot answered HTTP 500; attempt 1 failed, next in 1 s')
    // A second failure doubles the wait.
    fake.script.push(500)
    const again = outboxUnderTest({}, undefined, undefined, { now: () => clock + 1_000, random: () => 1 })
    again.outbox.flush()
    while (!again.events.length) await new Promise((r) => setTimeout(r, 5))
    again.outbox.stop()
    const second = JSON.parse(storage.getItem(key('backoff')) ?? '{}')
    assert.deepEqual([second.attempts, second.nextAt], [2, clock + 1_000 + 2_000])
  })

  test("Trustpilot's Retry-After wins over a shorter backoff", async () => {
    fake.script.push(503)
    fake.retryAfter = '30'
    try {
      const clock = 7_000_000
      const { outbox, events } = outboxUnderTest({}, undefined, undefined, { now: () => clock })
      outbox.submit(invitation('later'))
      while (!events.length) await new Promise((r) => setTimeout(r, 5))
      outbox.stop()
      assert.equal(JSON.parse(storage.getItem(key('later')) ?? '{}').nextAt, clock + 30_000)
      assert.match(events[0]?.reason ?? '', /next in 30 s/)
    } finally {
      fake.retryAfter = undefined
    }
  })

  test('a request that fails while the page is leaving is left as stored: no retry counted, the lease kept', async () => {
    fake.script.push('network-error')
    const { outbox, events } = outboxUnderTest()
    outbox.submit(invitation('unloading'))
    const before = storage.getItem(key('unloading'))
    outbox.setLeaving(true)
    await new Promise((r) => setTimeout(r, 250))
    assert.deepEqual(events, [])
    const stored = JSON.parse(storage.getItem(key('unloading')) ?? '{}')
    assert.equal(stored.attempts, 0)
    assert.equal(stored.lease.owner, JSON.parse(before ?? '{}').lease.owner)
    outbox.stop()
  })

  test('after a 202, the step is stored: a later page owes only the products request', async () => {
    fake.script.push('protocol', 500)
    const first = outboxUnderTest()
    first.outbox.submit(invitation('halfway'))
    while (!first.events.length) await new Promise((r) => setTimeout(r, 5))
    first.outbox.stop()
    assert.equal(first.events[0]?.status, 'retrying')
    const stored = parseRecord(storage.getItem(key('halfway')) ?? '')
    assert.ok(stored && 'step' in stored && stored.step === 'products', 'a record the next page accepts')
    // The next page, once the backoff is over.
    storage.setItem(key('halfway'), JSON.stringify({ ...stored, nextAt: 0 }))
    const next = outboxUnderTest()
    next.outbox.flush()
    assert.equal((await next.settled()).status, 'sent')
    assert.deepEqual(
      fake.requests.map((r) => 'products' in r.body),
      [false, true, true],
    )
    next.outbox.stop()
  })

  test('the owner lock is let go once nothing is in flight', async () => {
    const hub = lockHub()
    const { outbox, settled } = outboxUnderTest(undefined, undefined, hub.page())
    outbox.submit(invitation('done'))
    await settled()
    await sleep(10)
    assert.deepEqual(ownerLocks(hub), [])
    assert.equal(askedOwner(hub).length, 1)
    outbox.stop()
  })

  test('a leaving page starts nothing; back from the back/forward cache (pageshow), it sends what is due', async () => {
    storage.setItem(
      key('bfcache'),
      JSON.stringify({ invitation: invitation('bfcache'), step: 'invite', attempts: 1, createdAt: 0, nextAt: 0 }),
    )
    const { outbox, settled } = outboxUnderTest(undefined, undefined, lockHub().page())
    outbox.setLeaving(true)
    outbox.flush()
    await sleep(50)
    assert.equal(fake.requests.length, 0)
    outbox.setLeaving(false)
    assert.equal((await settled()).status, 'sent')
    outbox.stop()
  })

  test("without Web Locks, pagehide leaves the page's lease as it was (it holds until it expires)", async () => {
    fake.script.push('hang')
    const { outbox } = outboxUnderTest()
    outbox.submit(invitation('nolock-leave'))
    const before = storage.getItem(key('nolock-leave'))
    await sleep(5)
    outbox.setLeaving(true)
    assert.equal(storage.getItem(key('nolock-leave')), before)
    outbox.stop()
    await sleep(350)
  })

  /** Stores a pending entry, due at `nextAt`, under `lease` if given. */
  const seedEntry = (id: string, fields: Record<string, unknown> = {}) =>
    storage.setItem(
      key(id),
      JSON.stringify({ invitation: invitation(id), step: 'invite', attempts: 1, createdAt: 0, nextAt: 0, ...fields }),
    )

  test('back online (retryNow): what waits out a backoff goes at once; what another page leased does not', async () => {
    const later = Date.now() + 3_600_000
    seedEntry('backing-off', { nextAt: later })
    seedEntry('leased', { nextAt: later, lease: { owner: 'other', since: Date.now(), until: later } })
    const { outbox, settled } = outboxUnderTest()
    outbox.flush()
    await sleep(50)
    assert.equal(fake.requests.length, 0)
    outbox.retryNow()
    assert.equal((await settled()).referenceId, 'backing-off')
    await sleep(50)
    assert.deepEqual(
      fake.requests.map((r) => r.body.referenceId),
      ['backing-off'],
    )
    assert.equal(JSON.parse(storage.getItem(key('leased')) ?? '{}').nextAt, later)
    outbox.stop()
  })

  test('flushing twice while an entry is on its way sends it once; a stopped outbox sends nothing', async () => {
    fake.fallback = 'hang'
    seedEntry('twice')
    const { outbox } = outboxUnderTest({ timeoutMs: 400 })
    outbox.flush()
    outbox.flush()
    await sleep(50)
    assert.equal(fake.requests.length, 1)
    outbox.stop()
    seedEntry('after-stop')
    outbox.flush()
    outbox.retryNow()
    await sleep(50)
    assert.equal(fake.requests.length, 1)
  })

  test('a network error waits a moment for pagehide: a page that turns out to be leaving counts no retry', async () => {
    fake.script.push('network-error')
    const { outbox, events } = outboxUnderTest()
    outbox.submit(invitation('torn-down'))
    while (fake.requests.length === 0) await sleep(1)
    await sleep(30)
    outbox.setLeaving(true) // pagehide, just after the page's fetches were cut
    await sleep(200)
    assert.deepEqual(events, [])
    assert.equal(JSON.parse(storage.getItem(key('torn-down')) ?? '{}').attempts, 0)
    outbox.stop()
  })

  test(`past ${MAX_PENDING} pending, an entry on its way is never the one dropped`, async () => {
    fake.fallback = 'hang'
    const now = Date.now()
    seedEntry('q0', { createdAt: now - 5_000 })
    for (let i = 1; i < MAX_PENDING; i++) seedEntry(`q${i}`, { createdAt: now - 1_000 + i, nextAt: now + 60_000 })
    const { outbox, events } = outboxUnderTest({ timeoutMs: 400, maxAttempts: 100 })
    outbox.flush()
    while (fake.requests.length === 0) await sleep(1)
    outbox.submit(invitation('newest'))
    await sleep(20)
    outbox.stop()
    assert.deepEqual(
      events.filter((e) => e.status === 'failed').map((e) => e.referenceId),
      ['q1'],
    )
  })

  test('an entry due in 40 days gets one timer, capped to what setTimeout can hold, and no busy loop', async () => {
    seedEntry('far', { nextAt: Date.now() + 40 * 24 * 3_600_000 })
    const reads = { count: 0 }
    const key = storage.key.bind(storage)
    storage.key = (index: number) => {
      reads.count++
      return key(index)
    }
    try {
      const { outbox } = outboxUnderTest()
      outbox.flush()
      await sleep(100)
      assert.ok(reads.count < 10, `storage read ${reads.count} times in 100 ms`)
      outbox.stop()
    } finally {
      storage.key = key
    }
  })

  /** Stores a pending entry under another page's lease, written when the lease was. */
  const seedLeased = (id: string, lease: { owner: string; since: number; until: number }) =>
    seedEntry(id, { attempts: 0, createdAt: lease.since, nextAt: lease.since, lease })
  /** A page that holds its owner lock until it is killed. */
  function livePage(hub: ReturnType<typeof lockHub>, owner: string) {
    const locks = hub.page()
    void locks.request(ownerLockName(owner), () => new Promise(() => {}))
    return locks
  }

  test(`a lease whose page holds no owner lock (the page is gone) holds only ${LEFT_LEASE_MS} ms after it was written`, async () => {
    // Written LEFT_LEASE_MS − 300 ms ago (so the test waits 300 ms, not the whole 2 s).
    const since = Date.now() - LEFT_LEASE_MS + 300
    seedLeased('gone', { owner: 'dead-page', since, until: since + 60_000 })
    const hub = lockHub()
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      hub.page(),
    )
    outbox.flush()
    await sleep(150)
    assert.equal(fake.requests.length, 0, 'a request written moments ago may still be landing: left alone')
    assert.equal((await settled()).status, 'sent')
    // A page with no lock is not watched: its lease's end is timed instead.
    assert.deepEqual(
      hub.asked().filter((name) => name === ownerLockName('dead-page')),
      [],
    )
    const waited = Date.now() - since
    assert.ok(waited >= LEFT_LEASE_MS && waited < LEFT_LEASE_MS + 500, `sent ${waited} ms after the lease`)
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
    // One watch on that page's lock, however many times this page looked at the outbox.
    outbox.flush()
    await sleep(20)
    assert.equal(hub.asked().filter((name) => name === ownerLockName('live-page')).length, 2, 'its own, and one watch')
    const died = Date.now()
    hub.kill(live)
    assert.equal((await settled()).status, 'sent')
    assert.ok(Date.now() - died < 300, `sent ${Date.now() - died} ms after the page died`)
    outbox.stop()
  })

  test('without Web Locks a lease holds until it expires, as the only guard', async () => {
    const since = Date.now() - 10_000
    seedLeased('nolocks', { owner: 'some-page', since, until: Date.now() + 400 })
    const { outbox, settled } = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
    )
    outbox.flush()
    await sleep(250)
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
    assert.equal(ownerLocks(hub).length, 1, 'held while the request is out')
    await sleep(300)
    const left = Date.now()
    leaving.outbox.setLeaving(true)
    await sleep(10) // a lock is released asynchronously, in a browser too
    assert.deepEqual(ownerLocks(hub), [], 'released on pagehide')
    const lease = JSON.parse(storage.getItem(key('left')) ?? '{}').lease
    assert.ok(lease.since >= left, 'the lease counts from the leaving')
    // The next page runs LEFT_LEASE_MS − 300 ms later (its clock says so; the test waits 300 ms).
    const skew = LEFT_LEASE_MS - 300
    const next = outboxUnderTest(
      undefined,
      createStore(API_KEY, () => {}),
      hub.page(),
      { now: () => Date.now() + skew },
    )
    next.outbox.flush()
    await sleep(150)
    assert.equal(fake.requests.length, 1, 'only the leaving page request so far')
    assert.equal((await next.settled()).status, 'sent')
    const waited = Date.now() + skew - left
    assert.ok(waited >= LEFT_LEASE_MS - 50 && waited < LEFT_LEASE_MS + 500, `sent ${waited} ms after the page left`)
    assert.deepEqual(leaving.events, [], 'the page that left reports nothing')
    leaving.outbox.stop()
    next.outbox.stop()
  })

  test(`more than ${MAX_PENDING} pending: the one created first is dropped, whatever the order stored`, async () => {
    fake.fallback = 500
    const now = Date.now()
    // Stored newest first, so "first stored" and "oldest" differ.
    for (let i = 0; i < MAX_PENDING; i++) {
      storage.setItem(
        key(`q${i}`),
        JSON.stringify({
          invitation: invitation(`q${i}`),
          step: 'invite',
          attempts: 1,
          createdAt: now - 1_000 + i,
          nextAt: now + 60_000,
        }),
      )
    }
    const { outbox, events } = outboxUnderTest({ maxAttempts: 100 })
    outbox.submit(invitation('newest'))
    await new Promise((r) => setTimeout(r, 20))
    outbox.stop()
    const failed = events.filter((e) => e.status === 'failed').map((e) => e.referenceId)
    assert.deepEqual(failed, ['q0'])
    assert.equal(storage.getItem(key('q0')), null)
    assert.notEqual(storage.getItem(key('q49')), null)
    await new Promise((r) => setTimeout(r, 100))
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

  describe('what a flush asks of Web Locks (guards that timers alone could not show)', () => {
    const entryLock = (id: string) => entryLockName(API_KEY, id)
    /** One page's locks, counting its query() calls. */
    function countedPage(hub: ReturnType<typeof lockHub>) {
      const locks = hub.page()
      const query = locks.query.bind(locks)
      const counted = Object.assign(locks, { queries: 0 })
      counted.query = () => {
        counted.queries++
        return query()
      }
      return counted
    }

    test('an entry waiting out its backoff: no lock is asked for it', async () => {
      seedEntry('not-yet', { nextAt: Date.now() + 60_000 })
      const hub = lockHub()
      const { outbox } = outboxUnderTest(undefined, undefined, hub.page())
      outbox.flush()
      await sleep(30)
      assert.deepEqual(
        hub.asked().filter((name) => name === entryLock('not-yet')),
        [],
      )
      assert.equal(fake.requests.length, 0)
      outbox.stop()
    })

    test('a leaving page does not even look at the locks; one stopped while it looked asks for none', async () => {
      seedEntry('idle')
      const hub = lockHub()
      const leavingLocks = countedPage(hub)
      const leaving = outboxUnderTest(undefined, undefined, leavingLocks)
      const locks = countedPage(hub)
      const stopped = outboxUnderTest(undefined, undefined, locks)
      leaving.outbox.setLeaving(true)
      const before = locks.queries
      leaving.outbox.flush()
      assert.equal(leavingLocks.queries, 0, 'the leaving page did not look')
      // Stopped after the flush asked which locks are held, before the answer came.
      stopped.outbox.flush()
      stopped.outbox.stop()
      await sleep(30)
      assert.equal(locks.queries, before + 1, 'the stopped page looked once')
      assert.deepEqual(
        hub.asked().filter((name) => name === entryLock('idle')),
        [],
      )
      assert.equal(fake.requests.length, 0)
      leaving.outbox.stop()
    })

    test('while an entry is on its way, a flush arms no timer for it', async () => {
      fake.fallback = 'hang'
      const { outbox } = outboxUnderTest({ timeoutMs: 400 })
      outbox.submit(invitation('in-flight'))
      await sleep(20)
      const before = activeTimers()
      outbox.flush()
      await sleep(20)
      assert.equal(activeTimers(), before, 'no timer for an entry this page is sending')
      assert.equal(fake.requests.length, 1)
      outbox.stop()
      await sleep(400)
    })

    test('an entry another page claimed while this one waited for its lock: left to its lease, then sent once', async () => {
      // The other page (gone by then, so its lease holds LEFT_LEASE_MS from when it was written)
      // holds the entry's lock while this page flushes twice.
      seedEntry('raced')
      const hub = lockHub()
      const other = hub.page()
      let letGo = () => {}
      void other.request(entryLock('raced'), () => new Promise<void>((resolve) => (letGo = resolve)))
      const { outbox, settled } = outboxUnderTest(undefined, undefined, hub.page())
      outbox.flush()
      await sleep(10)
      outbox.flush()
      await sleep(10)
      assert.equal(
        hub.asked().filter((name) => name === entryLock('raced')).length,
        2,
        'the other page, and this one once',
      )
      const since = Date.now() - LEFT_LEASE_MS + 300
      seedEntry('raced', { lease: { owner: 'gone-page', since, until: since + 60_000 } })
      letGo()
      await sleep(100)
      assert.equal(fake.requests.length, 0, 'not before the lease ends')
      const never = sleep(2_000).then(() => ({ status: 'never sent: the page still counts it as its own' }))
      assert.equal((await Promise.race([settled(), never])).status, 'sent')
      assert.ok(Date.now() - since >= LEFT_LEASE_MS)
      assert.equal(fake.requests.length, 1)
      outbox.stop()
    })
  })
})
