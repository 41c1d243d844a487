/**
 * The entry (plugin.ts) on its own: when it loads the delivery module, what it keeps before waiting
 * for it, and how long it waits. The module loader is injected, so a test can make it slow, failing
 * or counted; where it succeeds it is the real delivery module, sending to msw's fake Trustpilot.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import type { Context } from '@segment/analytics-next'
import { orderKeyPrefix } from '../src/keys'
import type { LoadDelivery } from '../src/plugin'
import { createStore } from '../src/store'
import { API_KEY, SEED_PROPERTIES } from './support/fixtures'
import { fakeTrustpilotPage, keptOrders, pageWith, realModule, until } from './support/helpers'

const env = fakeTrustpilotPage()
const { fake } = env

const never: LoadDelivery = () => new Promise(() => {})

describe('the entry loads the delivery module only when there is something to deliver', () => {
  test('no order and nothing stored: browsing events never load it', async () => {
    const page = await pageWith()
    for (const event of ['Product Viewed', 'Cart Viewed', 'Order Refunded', 'order completed']) {
      assert.equal(page.track({}, { event }).synchronous, true)
    }
    assert.equal(page.loads(), 0)
  })

  for (const event of ['Checkout Started', 'Checkout Step Viewed', 'Checkout Step Completed', 'Payment Info Entered']) {
    test(`"${event}" loads it ahead of the order, once`, async () => {
      const page = await pageWith()
      assert.equal(page.track({}, { event }).synchronous, true, 'the checkout event itself waits for nothing')
      page.track({}, { event })
      await until(() => page.loads() > 0)
      assert.equal(page.loads(), 1)
    })
  }

  test('at load: a kept order or a pending invitation loads it; a tombstone alone does not', async () => {
    const store = createStore(API_KEY, () => {})
    store.markSent('delivered', Date.now())
    assert.equal((await pageWith({ load: never })).loads(), 0)

    // Not even JSON: dropped, and nothing to load for.
    env.storage.setItem(`${orderKeyPrefix(API_KEY)}m-0`, 'not json')
    assert.equal((await pageWith({ load: never })).loads(), 0)
    assert.equal(env.storage.length, 1, 'only the tombstone is left')

    env.storage.setItem(`${orderKeyPrefix(API_KEY)}m-1`, JSON.stringify({ event: { context: {} }, traits: {} }))
    assert.equal((await pageWith({ load: never })).loads(), 1)

    env.storage.clear()
    const at = Date.now()
    store.put({
      invitation: { body: { recipientEmail: 'a@b.c', referenceId: 'p', source: 'x' }, products: [], productSkus: [] },
      step: 'invite',
      attempts: 1,
      createdAt: at,
      nextAt: at,
    })
    assert.equal((await pageWith({ load: never })).loads(), 1)
  })
})

test('a kept order this package did not write is mapped like any order: skipped with the reason, and dropped', async () => {
  env.storage.setItem(`${orderKeyPrefix(API_KEY)}junk`, JSON.stringify({ written: 'by someone else' }))
  const page = await pageWith()
  await until(() => page.outcomes.length > 0)
  assert.deepEqual(page.outcomes, [
    { status: 'skipped', referenceId: undefined, reason: 'not an Order Completed track event' },
  ])
  assert.equal(keptOrders(env.storage).length, 0)
  assert.equal(fake.requests.length, 0)
})

describe('an order before the module is there', () => {
  test('is kept in storage before track waits for anything', async () => {
    const page = await pageWith({ load: never })
    const { synchronous } = page.track(SEED_PROPERTIES)
    assert.equal(synchronous, false)
    assert.equal(keptOrders(env.storage).length, 1, 'kept by the time track returned its promise')
    const kept = JSON.parse(env.storage.getItem(keptOrders(env.storage)[0]!)!)
    assert.equal(kept.event.properties.order_id, SEED_PROPERTIES.order_id)
  })

  test('a module that fails to load: track resolves at once, "retrying", and the order stays kept', async () => {
    const page = await pageWith({
      load: () => Promise.reject(new TypeError('Failed to fetch dynamically imported module')),
    })
    const started = Date.now()
    const { result, logs } = page.track(SEED_PROPERTIES)
    await result
    assert.ok(Date.now() - started < 200)
    assert.equal(page.outcomes.length, 1)
    const [outcome] = page.outcomes
    assert.equal(outcome?.status, 'retrying')
    assert.equal(outcome?.referenceId, SEED_PROPERTIES.order_id)
    assert.equal(outcome?.error?.name, 'RetryableError')
    assert.match(
      outcome!.reason,
      /^the delivery module did not load \(TypeError: Failed to fetch dynamically imported module\); the order is kept/,
    )
    assert.match(logs[0]![1], /Trustpilot retrying/)
    assert.equal(keptOrders(env.storage).length, 1)
    assert.equal(fake.requests.length, 0)

    // A later page that can load the module delivers the kept order, and drops it.
    const later = await pageWith()
    await until(() => later.outcomes.some((o) => o.status === 'sent'))
    assert.deepEqual(
      fake.requests.map((r) => r.body.referenceId),
      [SEED_PROPERTIES.order_id, SEED_PROPERTIES.order_id],
    )
    assert.equal(keptOrders(env.storage).length, 0)
  })

  test('the same page tries the module again on the next occasion (back online)', async () => {
    // Node has no window events: give globalThis an EventTarget's, as a page has.
    const target = new EventTarget()
    const events = globalThis as unknown as Record<string, unknown>
    for (const method of ['addEventListener', 'removeEventListener', 'dispatchEvent']) {
      events[method] = (target as unknown as Record<string, (...args: never[]) => unknown>)[method]!.bind(target)
    }
    after(() => {
      for (const method of ['addEventListener', 'removeEventListener', 'dispatchEvent']) delete events[method]
    })
    let fail = true
    const page = await pageWith({ load: () => (fail ? Promise.reject(new Error('offline')) : realModule()) })
    await page.track(SEED_PROPERTIES).result
    fail = false
    globalThis.dispatchEvent(new Event('online'))
    await until(() => page.outcomes.some((o) => o.status === 'sent'))
    assert.deepEqual(
      page.outcomes.map((o) => o.status),
      ['retrying', 'sent'],
    )
    page.plugin.unload?.({} as Context, {} as never)
  })

  test('a module that hangs: track resolves after timeoutMs, never later', async () => {
    const page = await pageWith({ load: never, settings: { timeoutMs: 100 } })
    const started = Date.now()
    await page.track(SEED_PROPERTIES).result
    const waited = Date.now() - started
    assert.ok(waited >= 95 && waited < 400, `waited ${waited} ms`)
    assert.match(page.outcomes[0]!.reason, /^the delivery module did not load within 100 ms; the order is kept/)
  })

  test('a module that arrives after the timeout still takes the order, on this page', async () => {
    const page = await pageWith({
      load: () => new Promise((resolve) => setTimeout(() => resolve(realModule()), 150)),
      settings: { timeoutMs: 50 },
    })
    await page.track(SEED_PROPERTIES).result
    await until(() => page.outcomes.some((o) => o.status === 'sent'))
    assert.deepEqual(
      page.outcomes.map((o) => o.status),
      ['retrying', 'sent'],
    )
    assert.equal(keptOrders(env.storage).length, 0)
  })

  test('once the module is there, an order goes to it within track: no promise, no kept copy', async () => {
    const page = await pageWith()
    await page.track({ ...SEED_PROPERTIES, order_id: 'first' }).result
    const second = page.track({ ...SEED_PROPERTIES, order_id: 'second' })
    assert.equal(second.synchronous, true)
    assert.equal(keptOrders(env.storage).length, 0)
    await until(() => page.outcomes.filter((o) => o.status === 'sent').length === 2)
    assert.equal(page.loads(), 1)
  })

  test('an invalid order is skipped by the module, with the reason, in the track that carried it', async () => {
    const page = await pageWith()
    const { result, logs } = page.track({ order_id: 'no-email' })
    await result
    assert.deepEqual(page.outcomes, [
      {
        status: 'skipped',
        referenceId: 'no-email',
        reason: "no email in properties.email, context.traits.email or the user's traits",
      },
    ])
    assert.match(logs[0]![1], /Trustpilot skipped no-email/)
    assert.equal(keptOrders(env.storage).length, 0)
    assert.equal(fake.requests.length, 0)
  })

  test('unloaded while the module loads: nothing is started, the order stays kept for a later page', async () => {
    let arrive: (module: Awaited<ReturnType<LoadDelivery>>) => void = () => {}
    const page = await pageWith({
      load: () => new Promise((resolve) => (arrive = resolve)),
      settings: { timeoutMs: 1_000 },
    })
    const { result } = page.track(SEED_PROPERTIES)
    page.plugin.unload?.({} as Context, {} as never)
    arrive(await realModule())
    await result
    await new Promise((r) => setTimeout(r, 50))
    assert.equal(fake.requests.length, 0)
    assert.deepEqual(page.outcomes, [])
    assert.equal(keptOrders(env.storage).length, 1)
  })
})
