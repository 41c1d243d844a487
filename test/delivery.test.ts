/**
 * The delivery module (delivery.ts) as the entry starts it: an order page that Trustpilot answers
 * never loads the outbox; a transient failure loads it, and it takes the retry; an outbox that can't
 * load leaves the invitation stored and says so. Which modules load is watched through the module's
 * own seam for its imports (`modules`).
 */
import assert from 'node:assert/strict'
import { describe, mock, test } from 'node:test'
import type { Context } from '@segment/analytics-next'
import { type DeliveryModules, startDelivery } from '../src/delivery'
import { orderOf } from '../src/inbox'
import { orderKeyPrefix } from '../src/keys'
import { resolveSettings } from '../src/settings'
import type { TrustpilotMiddleware, TrustpilotOutcome } from '../src/types'
import { API_KEY, pendingEntry, SEED_PROPERTIES } from './support/fixtures'
import { fakeTrustpilotPage, inAPage, sleep, storageKeyOf, until } from './support/helpers'

/**
 * The delivery module's parts as this file imports them: each import is counted, and the next
 * `failing[part]` imports of a part fail, as an offline page's would.
 */
const imported: Array<keyof DeliveryModules> = []
const failing: Record<keyof DeliveryModules, number> = { outbox: 0, scriptTransport: 0 }
function importPart<T>(part: keyof DeliveryModules, load: () => Promise<T>) {
  return () => {
    imported.push(part)
    if (failing[part] > 0) {
      failing[part]--
      return Promise.reject(new Error('offline'))
    }
    return load()
  }
}
const modules: DeliveryModules = {
  outbox: importPart('outbox', () => import('../src/outbox')),
  scriptTransport: importPart('scriptTransport', () => import('../src/script-transport')),
}
/** Fails the next `times` imports of `part`. */
const failNextImports = (times: number, part: keyof DeliveryModules = 'outbox') => {
  failing[part] = times
}

const env = fakeTrustpilotPage()
const { fake } = env

const key = storageKeyOf
const order = (properties: Record<string, unknown>) =>
  orderOf({ type: 'track', event: 'Order Completed', properties, context: {} }, {})

function deliveryUnderTest(overrides: Record<string, unknown> = {}) {
  const outcomes: Array<{ outcome: TrustpilotOutcome }> = []
  const delivery = startDelivery({
    settings: resolveSettings({ apiKey: API_KEY, timeoutMs: 200, ...overrides }),
    modules,
    analytics: () => ({
      emit: (event, outcome) => event === 'trustpilot' && outcomes.push({ outcome: outcome as TrustpilotOutcome }),
      track() {},
    }),
  })
  const statuses = () => outcomes.map((o) => o.outcome.status)
  return { delivery, outcomes, statuses }
}

describe('delivery module', () => {
  // First: nothing in this process has loaded the outbox yet.
  test('an order Trustpilot accepts is sent without loading the outbox', async () => {
    const { delivery, statuses } = deliveryUnderTest()
    delivery.take(order(SEED_PROPERTIES))
    await until(() => statuses().includes('sent'))
    assert.equal(fake.requests.length, 2)
    assert.deepEqual(imported, [])
    delivery.stop()
  })

  test('an outbox that cannot load: the invitation stays stored, the outcome says why; the next occasion loads it', async () => {
    failNextImports(1)
    fake.script.push(503)
    const { delivery, outcomes, statuses } = deliveryUnderTest()
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'offline' }))
    await until(() => outcomes.length > 0)
    assert.deepEqual(outcomes[0]?.outcome, {
      status: 'retrying',
      referenceId: 'offline',
      reason: 'Trustpilot answered HTTP 503; the outbox did not load (Error: offline)',
      error: outcomes[0]?.outcome.error,
    })
    assert.equal(outcomes[0]?.outcome.error?.name, 'RetryableError')
    assert.equal(JSON.parse(env.storage.getItem(key('offline')) ?? '{}').step, 'invite', 'still stored')
    // Back online: the outbox is imported again, and sends what waited.
    delivery.retryNow()
    await until(() => statuses().includes('sent') && imported.length >= 2)
    assert.deepEqual(imported, ['outbox', 'outbox'])
    assert.equal(fake.requests.length, 3)
    delivery.stop()
  })

  test('a transient failure is the outbox’s to retry: counted, stored with its backoff, then sent', async () => {
    fake.script.push(500)
    const { delivery, outcomes, statuses } = deliveryUnderTest()
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'again' }))
    await until(() => outcomes.length > 0)
    assert.equal(outcomes[0]?.outcome.status, 'retrying')
    assert.match(outcomes[0]!.outcome.reason, /^Trustpilot answered HTTP 500; attempt 1 failed, next in \d+ s$/)
    const entry = JSON.parse(env.storage.getItem(key('again')) ?? '{}')
    assert.equal(entry.attempts, 1)
    assert.ok(entry.nextAt > Date.now())
    // New orders now go through the outbox, and back online what waited goes at once.
    delivery.retryNow()
    await until(() => statuses().includes('sent'))
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'next' }))
    await until(() => statuses().filter((s) => s === 'sent').length === 2)
    delivery.stop()
  })

  test('what earlier pages stored goes out on flush; a stopped delivery starts nothing', async () => {
    env.storage.setItem(key('left'), JSON.stringify(pendingEntry('left')))
    const first = deliveryUnderTest()
    first.delivery.flush()
    await until(() => first.statuses().includes('sent'))
    assert.deepEqual(
      fake.requests.map((r) => r.body.referenceId),
      ['left'],
    )
    const second = deliveryUnderTest()
    second.delivery.take(order({ ...SEED_PROPERTIES, order_id: 'warm' }))
    await until(() => second.statuses().includes('sent'))
    second.delivery.flush()
    await sleep(20)
    second.delivery.stop()
    env.storage.setItem(key('late'), JSON.stringify(pendingEntry('late')))
    second.delivery.flush()
    second.delivery.retryNow()
    await sleep(50)
    assert.equal(env.storage.getItem(key('late')) !== null, true, 'left for a later page')
    assert.equal(fake.requests.filter((r) => r.body.referenceId === 'late').length, 0)
  })

  test('back from the back/forward cache, the outbox sends what came due while the page slept', async () => {
    fake.script.push(500)
    const { delivery, statuses } = deliveryUnderTest()
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'slept' }))
    await until(() => statuses().includes('retrying'))
    delivery.setLeaving(true)
    const entry = JSON.parse(env.storage.getItem(key('slept')) ?? '{}')
    env.storage.setItem(key('slept'), JSON.stringify({ ...entry, nextAt: 0 }))
    await sleep(20)
    assert.equal(fake.requests.length, 1, 'nothing starts while the page is away')
    delivery.setLeaving(false)
    await until(() => statuses().includes('sent'))
    delivery.stop()
  })

  test('a kept order is dropped from the inbox once it is in the outbox, or skipped', async () => {
    const { delivery, outcomes } = deliveryUnderTest()
    const kept = `${orderKeyPrefix(API_KEY)}m-1`
    env.storage.setItem(kept, '{}')
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'kept' }), undefined, kept)
    assert.equal(env.storage.getItem(kept), null)
    assert.notEqual(env.storage.getItem(key('kept')), null, 'in the outbox by then')
    const invalid = `${orderKeyPrefix(API_KEY)}m-2`
    env.storage.setItem(invalid, '{}')
    const logged: string[] = []
    const ctx = { log: (level: string, message: string) => logged.push(`${level} ${message}`) } as unknown as Context
    delivery.take(order({ order_id: 'no-email' }), ctx, invalid)
    assert.equal(env.storage.getItem(invalid), null)
    assert.equal(outcomes.at(-1)?.outcome.status, 'skipped')
    assert.match(logged.join('\n'), /^warn Trustpilot skipped no-email: /, 'reported in the track that carried it')
    // Junk a page kept under our key: skipped like any invalid order.
    delivery.take(undefined as never)
    assert.deepEqual(outcomes.at(-1)?.outcome, {
      status: 'skipped',
      referenceId: undefined,
      reason: 'not an Order Completed track event',
    })
    await until(() => outcomes.some((o) => o.outcome.status === 'sent'))
    delivery.stop()
  })

  test('a storage problem goes to the console, without debug, naming the plugin', async () => {
    const warn = mock.method(console, 'warn', () => {})
    try {
      env.storage.failWrites = true
      await inAPage(async () => {
        const { delivery, statuses } = deliveryUnderTest()
        delivery.take(order({ ...SEED_PROPERTIES, order_id: 'full' }))
        delivery.take(order({ ...SEED_PROPERTIES, order_id: 'full-2' }))
        // Once per page, whatever fails after.
        assert.equal(warn.mock.callCount(), 1)
        assert.match(
          String(warn.mock.calls[0]?.arguments[0]),
          /^Trustpilot: localStorage failed \(QuotaExceededError\); pending invitations are kept in memory for this page only, and end with it$/,
        )
        await until(() => statuses().filter((status) => status === 'sent').length === 2)
        delivery.stop()
      })
    } finally {
      warn.mock.restore()
    }
  })

  test("transport 'script': Trustpilot's script is loaded on demand and delivers", async () => {
    const given: unknown[][] = []
    const tp = (...args: unknown[]) => {
      given.push(args)
      if (args[0] === 'createInvitation') queueMicrotask(() => listener?.())
      if (args[0] === 'on') listener = args[2] as () => void
    }
    let listener: (() => void) | undefined
    const scripts: Array<{ src?: string; onload?: () => void }> = []
    const page = globalThis as unknown as { document?: unknown; tp?: unknown }
    page.document = {
      createElement: () => ({}),
      head: {
        append(script: { src?: string; onload?: () => void }) {
          scripts.push(script)
          page.tp = tp
          setTimeout(() => script.onload?.(), 5)
        },
      },
    }
    try {
      const { delivery, statuses } = deliveryUnderTest({ transport: 'script' })
      assert.equal(scripts.length, 0, 'nothing loaded before an order')
      delivery.take(order({ ...SEED_PROPERTIES, order_id: 'scripted' }))
      await until(() => statuses().includes('sent'))
      assert.equal(scripts.length, 1)
      assert.match(scripts[0]?.src ?? '', /\/tp\.min\.js$/)
      assert.equal(
        (given.find((args) => args[0] === 'createInvitation')?.[1] as { referenceId?: string } | undefined)
          ?.referenceId,
        'scripted',
      )
      assert.equal(fake.requests.length, 0, 'no request of its own')
      await until(() => imported.includes('scriptTransport'))
      delivery.stop()
    } finally {
      delete page.document
      delete page.tp
    }
  })

  test("the script transport that cannot load: the outcome says so, and its error keeps the import's as cause", async () => {
    failNextImports(1, 'scriptTransport')
    const { delivery, outcomes } = deliveryUnderTest({ transport: 'script' })
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'no-script' }))
    await until(() => outcomes.length > 0)
    const [{ outcome }] = outcomes as [{ outcome: TrustpilotOutcome }]
    assert.equal(outcome.status, 'retrying')
    assert.match(
      outcome.reason,
      /^the script transport did not load \(Error: offline\); attempt 1 failed, next in \d+ s$/,
    )
    assert.equal((outcome.error?.cause as Error | undefined)?.message, 'offline')
    delivery.stop()
  })

  test('a page without an analytics instance yet: outcomes go nowhere, and even with debug nothing is taken for a throwing listener', async () => {
    const errors = mock.method(console, 'error', () => {})
    const warnings = mock.method(console, 'warn', () => {})
    try {
      const delivery = startDelivery({
        settings: resolveSettings({ apiKey: API_KEY, debug: true, trackOutcomes: true }),
      })
      delivery.take(order({ order_id: 'no-email' }))
      assert.equal(errors.mock.callCount(), 0)
      assert.match(String(warnings.mock.calls[0]?.arguments[0]), /^Trustpilot skipped no-email: /)
      delivery.stop()
    } finally {
      errors.mock.restore()
      warnings.mock.restore()
    }
  })

  test('an order that was never kept leaves every other key alone (even one named "undefined")', async () => {
    env.storage.setItem('undefined', "the shop's own")
    const { delivery, statuses } = deliveryUnderTest()
    delivery.take(order({ order_id: 'skip-me' }))
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'send-me' }))
    await until(() => statuses().includes('sent'))
    assert.equal(env.storage.getItem('undefined'), "the shop's own")
    delivery.stop()
  })

  test('with middleware, junk a page kept under our key is skipped, never thrown, whatever the middleware does', async () => {
    const drop: TrustpilotMiddleware = ({ next }) => next(null)
    for (const middleware of [[drop], [({ payload, next }: Parameters<TrustpilotMiddleware>[0]) => next(payload)]]) {
      const outcomes: TrustpilotOutcome[] = []
      const delivery = startDelivery({
        settings: resolveSettings({ apiKey: API_KEY, timeoutMs: 200 }),
        middleware,
        analytics: () => ({ emit: (_event, outcome) => outcomes.push(outcome as TrustpilotOutcome), track() {} }),
      })
      await delivery.take(undefined as never)
      assert.deepEqual(
        outcomes.map((o) => [o.status, o.referenceId]),
        [['skipped', undefined]],
      )
      delivery.stop()
    }
  })

  test('once the outbox is here, the end of a delivery makes it look again: an entry another tab stored goes now', async () => {
    fake.script.push(500)
    fake.retryAfter = '60' // the retry's timer, a minute away, is not what sends the other tab's entry
    const { delivery, statuses } = deliveryUnderTest()
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'first-fails' }))
    await until(() => statuses().includes('retrying'))
    fake.retryAfter = undefined
    // Another tab stores an entry, due now; this page's only timer is the retry, seconds away.
    env.storage.setItem(key('other-tab'), JSON.stringify(pendingEntry('other-tab')))
    delivery.take(order({ ...SEED_PROPERTIES, order_id: 'second' }))
    await until(() => fake.requests.filter((r) => r.body.referenceId === 'other-tab').length > 0, 1_000)
    delivery.stop()
  })
})
