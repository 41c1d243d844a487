/**
 * The courier (courier.ts) on its own, over a scripted transport: what it stores around a delivery,
 * when it waits, and the owner lock it holds while it has requests out.
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import { createCourier, handOverRetries, KEPT_IN_MEMORY } from '../src/courier'
import { InvitationRejectedError, RetryableError } from '../src/errors'
import type { Invitation } from '../src/mapping'
import { resolveSettings } from '../src/settings'
import { createStore } from '../src/store'
import type { SendResult, Step, Transport } from '../src/transport'
import type { TrustpilotOutcome } from '../src/types'
import { API_KEY } from './support/fixtures'
import {
  askedOwner,
  fileLocalStorage,
  invitationFor,
  lockHub,
  ownerLocks,
  refusingLocks,
  sleep,
  storageKeyOf,
} from './support/helpers'

const storage = fileLocalStorage()

const settings = resolveSettings({ apiKey: API_KEY, timeoutMs: 100 })
const key = storageKeyOf
const stored = (id: string) => JSON.parse(storage.getItem(key(id)) ?? 'null')

const invitation = invitationFor

/** A courier whose transport answers with `answer(step)`, recording requests, outcomes and retries. */
function courierWith(
  answer: (step: Step, id: string) => Promise<SendResult> | SendResult,
  locks?: LockManager,
  now?: () => number,
) {
  const outcomes: TrustpilotOutcome[] = []
  const retries: Array<{ id: string; error: RetryableError; at: number }> = []
  const requests: Array<{ id: string; step: Step; keepalive: boolean }> = []
  const transport: Transport = {
    send: async (invitation, step, keepalive) => {
      requests.push({ id: invitation.body.referenceId, step, keepalive })
      return answer(step, invitation.body.referenceId)
    },
  }
  const store = createStore(API_KEY, () => {})
  const courier = createCourier({
    settings,
    store,
    transport,
    report: (outcome) => outcomes.push(outcome),
    locks,
    ...(now ? { now } : {}),
    retry: (id, _invitation, error) => retries.push({ id, error, at: Date.now() }),
    settled: () => {},
  })
  const done = async () => {
    while (courier.sending.size) await sleep(1)
  }
  return { courier, store, outcomes, retries, requests, done }
}

describe('courier', () => {
  test('a new order is stored with its first lease before the request, and a tombstone after it', async () => {
    const { courier, outcomes, requests, done } = courierWith(
      () => 'created',
      undefined,
      () => 1_000,
    )
    courier.submit(invitation('a'))
    assert.deepEqual(stored('a'), {
      invitation: invitation('a'),
      step: 'invite',
      attempts: 0,
      createdAt: 1_000,
      nextAt: 1_000,
      lease: { owner: courier.owner, since: 1_000, until: 1_000 + 3 * 100 + 2_000 },
    })
    assert.equal(requests.length, 0, 'the request starts in a microtask, after submit returned')
    await done()
    assert.deepEqual(requests, [{ id: 'a', step: 'invite', keepalive: true }])
    assert.deepEqual(stored('a'), { sent: 1_000 })
    assert.deepEqual(outcomes, [{ status: 'sent', referenceId: 'a', reason: 'accepted by Trustpilot' }])
  })

  test('after a 202 whose entry is gone from storage (cleared meanwhile), the products still go and nothing pending is written back', async () => {
    const { courier, outcomes, requests, done } = courierWith((step) => {
      if (step === 'invite') storage.clear()
      return step === 'invite' ? 'needs-products' : 'created'
    })
    courier.submit(invitation('cleared'))
    await done()
    assert.deepEqual(
      requests.map((r) => r.step),
      ['invite', 'products'],
    )
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['sent'],
    )
    assert.deepEqual(Object.keys(stored('cleared')), ['sent'])
  })

  test('an HTTP answer is acted on at once; only a network failure waits a moment for pagehide', async () => {
    const cases: Array<[string, () => never, 'retry' | 'failed', boolean]> = [
      [
        'HTTP 500',
        () => {
          throw new RetryableError('Trustpilot answered HTTP 500', { status: 500 })
        },
        'retry',
        false,
      ],
      [
        'HTTP 400',
        () => {
          throw new InvitationRejectedError('Trustpilot rejected the invitation (HTTP 400)', { status: 400 })
        },
        'failed',
        false,
      ],
      [
        'a plain error',
        () => {
          throw new Error('boom')
        },
        'failed',
        false,
      ],
      [
        'a network error',
        () => {
          throw new RetryableError('network error: Failed to fetch')
        },
        'retry',
        true,
      ],
    ]
    for (const [what, fail, end, waits] of cases) {
      // pagehide comes in the next task after the failure: only a failure that waits sees it.
      let leave = () => {}
      const { courier, outcomes, retries, done } = courierWith(() => {
        setImmediate(leave)
        return fail()
      })
      leave = () => courier.setLeaving(true)
      const started = Date.now()
      courier.submit(invitation('x'))
      await done()
      if (waits) {
        assert.ok(Date.now() - started >= 95, `${what}: waited ${Date.now() - started} ms`)
        assert.deepEqual([retries.length, outcomes.length], [0, 0], `${what}: left as stored`)
      } else if (end === 'retry') assert.deepEqual([retries.length, outcomes.length], [1, 0], what)
      else assert.deepEqual([retries.length, outcomes[0]?.status], [0, 'failed'], what)
      storage.clear()
    }
  })

  test('whatever a transport throws ends as a failure with an Error that says it', async () => {
    const { courier, outcomes, done } = courierWith(() => Promise.reject('script said no'))
    courier.submit(invitation('odd'))
    await done()
    const [outcome] = outcomes
    assert.ok(outcome?.status === 'failed')
    assert.equal(outcome.reason, 'script said no')
    assert.ok(outcome.error instanceof Error)
    assert.equal(storage.getItem(key('odd')), null, 'a failure is removed from the outbox')
  })

  test('one owner lock per page, however many orders go at once; asked again for a later order', async () => {
    const hub = lockHub()
    const answers: Array<() => void> = []
    const release = () => {
      for (const answer of answers.splice(0)) answer()
    }
    const { courier, done } = courierWith(
      () => new Promise<SendResult>((resolve) => answers.push(() => resolve('created'))),
      hub.page(),
    )
    courier.submit(invitation('one'))
    courier.submit(invitation('two'))
    await sleep(10)
    assert.equal(askedOwner(hub).length, 1)
    assert.equal(ownerLocks(hub).length, 1, 'held while requests are out')
    release()
    await done()
    await sleep(5)
    assert.deepEqual(ownerLocks(hub), [], 'let go once nothing is in flight')
    courier.submit(invitation('three'))
    await sleep(5)
    assert.equal(askedOwner(hub).length, 2)
    assert.equal(ownerLocks(hub).length, 1, 'held again for the later order')
    release()
    await done()
  })

  test('an owner lock granted after the delivery ended is let go at once', async () => {
    const releases: Array<Promise<unknown>> = []
    const slow = {
      request: (_name: string, callback: () => unknown) => {
        const held = sleep(30).then(callback)
        releases.push(held)
        return held
      },
    } as unknown as LockManager
    const { courier, done } = courierWith(() => 'created', slow)
    courier.submit(invitation('quick'))
    await done()
    const settled = await Promise.race([releases[0]!.then(() => 'released'), sleep(1_000).then(() => 'still held')])
    assert.equal(settled, 'released')
  })

  test('an owner lock that was refused is asked for again by the next delivery', async () => {
    const refusing = refusingLocks()
    const { courier, outcomes, done } = courierWith(() => 'created', refusing.locks)
    courier.submit(invitation('r1'))
    await done()
    await sleep(1)
    const first = refusing.asked()
    assert.ok(first >= 1)
    courier.submit(invitation('r2'))
    await done()
    assert.ok(refusing.asked() > first, 'asked again')
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['sent', 'sent'],
    )
  })

  test("pagehide rewrites only this page's own leases; entries it waits for are left as stored", async () => {
    const hub = lockHub()
    let clock = 10_000
    const { courier } = courierWith(
      () => new Promise<SendResult>(() => {}),
      hub.page(),
      () => clock,
    )
    courier.submit(invitation('mine'))
    await sleep(1)
    // Entries this page is about to claim (waiting for their lock): one under another page's lease,
    // one with none, one that is gone from storage.
    const store = createStore(API_KEY, () => {})
    const theirs = { owner: 'other', since: 5, until: 99_999 }
    store.put({ invitation: invitation('theirs'), step: 'invite', attempts: 1, createdAt: 1, nextAt: 1, lease: theirs })
    store.put({ invitation: invitation('bare'), step: 'invite', attempts: 1, createdAt: 1, nextAt: 1 })
    for (const id of ['theirs', 'bare', 'gone']) courier.reserve(id)
    const before = { theirs: storage.getItem(key('theirs')), bare: storage.getItem(key('bare')) }
    clock = 20_000
    courier.setLeaving(true)
    assert.equal(stored('mine').lease.since, 20_000, 'its own lease counts from the leaving')
    assert.equal(stored('mine').lease.owner, courier.owner)
    assert.equal(storage.getItem(key('theirs')), before.theirs)
    assert.equal(storage.getItem(key('bare')), before.bare)
    assert.equal(storage.getItem(key('gone')), null)
    courier.stop()
  })
})

describe('courier, where nothing outlives the page (localStorage refuses every write)', () => {
  beforeEach(() => {
    storage.failWrites = true
  })
  afterEach(() => {
    storage.failWrites = false
  })

  test('the first request already carries the products: one request, no 202 to follow up', async () => {
    const { courier, outcomes, requests, done } = courierWith((step) =>
      step === 'invite' ? 'needs-products' : 'created',
    )
    courier.submit(invitation('whole'))
    await done()
    assert.deepEqual(requests, [{ id: 'whole', step: 'products', keepalive: true }])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['sent'],
    )
  })

  test('pagehide: each invitation not on the wire whole in its first request is reported as kept in memory only', async () => {
    const hang = () => new Promise<SendResult>(() => {})
    let failNext = new Set(['waiting', 'retried'])
    const { courier, store, outcomes, retries } = courierWith((_step, id) => {
      if (failNext.has(id)) throw new RetryableError('Trustpilot answered HTTP 503', { status: 503 })
      // Delivered: what is left of it is its 'sent' mark, which nothing need finish.
      if (id === 'delivered') return 'created'
      return hang()
    })
    courier.submit(invitation('delivered'))
    courier.submit(invitation('on-the-wire'))
    courier.submit(invitation('waiting'))
    courier.submit(invitation('retried'))
    while (retries.length < 2) await sleep(1)
    // 'waiting' waits for its retry (the outbox's timer); 'retried' is on the wire again, in a later attempt.
    failNext = new Set()
    const stored = courier.pendingEntry('retried')
    assert.ok(stored)
    // As the outbox claims a retry: its attempts counted, then carried.
    const again = { ...stored, attempts: 1 }
    store.put(again)
    void courier.carry(again)
    await sleep(1)
    courier.setLeaving(true)
    assert.deepEqual(
      outcomes
        .map(({ status, referenceId, reason }) => ({ status, referenceId, reason }))
        .sort((a, b) => `${a.referenceId}`.localeCompare(`${b.referenceId}`)),
      [
        { status: 'retrying', referenceId: 'retried', reason: KEPT_IN_MEMORY },
        { status: 'retrying', referenceId: 'waiting', reason: KEPT_IN_MEMORY },
        { status: 'sent', referenceId: 'delivered', reason: 'accepted by Trustpilot' },
      ].sort((a, b) => a.referenceId.localeCompare(b.referenceId)),
    )
    assert.ok(
      store.keys().some((key) => 'sent' in (store.read(key) ?? {})),
      "the delivered order's mark is there to be passed over",
    )
    assert.match(KEPT_IN_MEMORY, /kept in memory only/)
  })

  test('with storage that works, pagehide reports nothing: a later page finishes what is stored', async () => {
    storage.failWrites = false
    const { courier, outcomes } = courierWith(() => new Promise<SendResult>(() => {}))
    courier.submit(invitation('kept'))
    await sleep(1)
    courier.setLeaving(true)
    assert.deepEqual(outcomes, [])
    courier.stop()
  })
})

describe('handOverRetries: a transient failure goes to the outbox, loaded for the first one', () => {
  const error = new RetryableError('Trustpilot answered HTTP 503', { status: 503 })
  /** An outbox that records what it was told, in order. */
  const recordingOutbox = () => {
    const told: string[] = []
    return { told, outbox: { retry: (id: string) => told.push(`retry ${id}`), settled: () => told.push('settled') } }
  }

  test('once the outbox is here: straight to it, nothing loaded', () => {
    const { told, outbox } = recordingOutbox()
    let loads = 0
    const retry = handOverRetries(
      () => outbox,
      async () => {
        loads++
        return outbox
      },
      () => assert.fail('nothing to report'),
    )
    retry('here', invitation('here'), error)
    assert.deepEqual([told, loads], [['retry here'], 0])
  })

  test('the first: the outbox is loaded, takes the retry, then looks at what is stored (the delivery ended before it came)', async () => {
    const { told, outbox } = recordingOutbox()
    const retry = handOverRetries(
      () => undefined,
      async () => outbox,
      () => assert.fail('nothing to report'),
    )
    retry('first', invitation('first'), error)
    await sleep(1)
    assert.deepEqual(told, ['retry first', 'settled'])
  })

  test("an outbox that can't load: the invitation stays as stored, and the outcome says both why", async () => {
    const reports: Array<{ outcome: TrustpilotOutcome; invitation: Invitation }> = []
    const retry = handOverRetries(
      () => undefined,
      () => Promise.reject(new RetryableError('the outbox did not load (Error: offline)')),
      (outcome, invitation) => reports.push({ outcome, invitation }),
    )
    const offline = invitation('offline')
    retry('offline', offline, error)
    await sleep(1)
    assert.deepEqual(reports, [
      {
        outcome: {
          status: 'retrying',
          referenceId: 'offline',
          reason: 'Trustpilot answered HTTP 503; the outbox did not load (Error: offline)',
          error,
        },
        invitation: offline,
      },
    ])
  })
})
