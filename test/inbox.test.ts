/** The inbox (inbox.ts): what an order kept before the delivery module arrives holds, and where. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { keepOrder, orderOf, storedWork } from '../src/inbox'
import { entryKey, orderKeyPrefix } from '../src/keys'
import { API_KEY } from './support/fixtures'
import { freshLocalStorage } from './support/helpers'

const local = freshLocalStorage()

describe('inbox', () => {
  test("an order keeps what mapping reads, the user's traits and consent, and nothing else of the page", () => {
    const event = {
      type: 'track',
      event: 'Order Completed',
      properties: { order_id: 'o' },
      integrations: { Trustpilot: { locale: 'de-DE' } },
      context: {
        traits: { email: 'a@b.c' },
        consent: { categoryPreferences: { marketing: true } },
        page: { url: 'x' },
      },
      messageId: 'm',
      anonymousId: 'anon',
    }
    assert.deepEqual(orderOf(event, { name: 'A' }), {
      event: {
        type: 'track',
        event: 'Order Completed',
        properties: { order_id: 'o' },
        integrations: { Trustpilot: { locale: 'de-DE' } },
        context: { traits: { email: 'a@b.c' }, consent: { categoryPreferences: { marketing: true } } },
      },
      traits: { name: 'A' },
    })
    // An event without a context (hand-made) is kept too.
    assert.deepEqual(orderOf({ event: 'Order Completed' }, undefined).event.context, {
      traits: undefined,
      consent: undefined,
    })
  })

  test('kept under the integration key, the id encoded; storage that refuses it keeps nothing', () => {
    const order = orderOf({ event: 'Order Completed', properties: { order_id: 'o' } }, {})
    const kept = keepOrder(API_KEY, 'a/b', order)
    assert.equal(kept, `${orderKeyPrefix(API_KEY)}a%2Fb`)
    assert.deepEqual(JSON.parse(local.storage.getItem(kept) ?? ''), JSON.parse(JSON.stringify(order)))
    local.storage.failWrites = true
    assert.equal(keepOrder(API_KEY, 'full', order), undefined)
    local.storage.failWrites = false
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.equal(keepOrder(API_KEY, 'cycle', orderOf({ properties: cyclic }, {})), undefined)
    assert.equal(local.storage.length, 1)
  })

  test("the look at load reads only this integration key's orders and entries", () => {
    const order = orderOf({ event: 'Order Completed' }, {})
    const mine = keepOrder(API_KEY, 'm-1', order)!
    keepOrder('another-key', 'm-2', order)
    local.storage.setItem(`${orderKeyPrefix(API_KEY)}broken`, 'not json')
    local.storage.setItem(entryKey('another-key', 'p'), '{"pending":true}')
    local.storage.setItem('shop-cart', '{}')
    const work = storedWork(API_KEY)
    assert.deepEqual(work, { orders: [[mine, JSON.parse(JSON.stringify(order))]], pending: false })
    assert.equal(local.storage.getItem(`${orderKeyPrefix(API_KEY)}broken`), null, 'what is not JSON is dropped')
    assert.equal(local.storage.getItem('shop-cart'), '{}')
    local.storage.setItem(entryKey(API_KEY, 'done'), '{"sent":1}')
    assert.equal(storedWork(API_KEY).pending, false, 'a tombstone is nothing to deliver')
    local.storage.setItem(entryKey(API_KEY, 'p'), '{"step":"invite"}')
    assert.equal(storedWork(API_KEY).pending, true)
  })

  test('no storage at all: nothing kept, nothing found, nothing thrown', () => {
    delete (globalThis as { localStorage?: Storage }).localStorage
    assert.equal(keepOrder(API_KEY, 'x', orderOf({}, {})), undefined)
    assert.deepEqual(storedWork(API_KEY), { orders: [], pending: false })
  })
})
