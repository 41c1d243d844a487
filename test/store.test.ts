/**
 * The store (store.ts) on its own: what it keeps of delivered orders and for how long, which
 * records it trusts, and its fall-back to memory when localStorage fails or is missing.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { entryLockName, OWNER_LOCK_PREFIX, ownerLockName } from '../src/keys'
import { createStore, MAX_REMEMBERED, parseRecord, pruneAndListPending, REMEMBER_MS } from '../src/store'
import { API_KEY } from './support/fixtures'
import { fileLocalStorage, inAPage, invitationFor, storageKeyOf } from './support/helpers'

const storage = fileLocalStorage()

const invitation = invitationFor
const key = storageKeyOf

describe('store', () => {
  test(`remembers at most ${MAX_REMEMBERED} delivered orders, none older than 30 days`, () => {
    const now = Date.now()
    const store = createStore(API_KEY, () => {})
    for (let i = 0; i < MAX_REMEMBERED + 5; i++) store.markSent(`s${i}`, now - i)
    store.markSent('ancient', now - REMEMBER_MS - 1)
    pruneAndListPending(store, () => now)
    const kept = Object.keys(Object.fromEntries(Array.from({ length: storage.length }, (_, i) => [storage.key(i), 1])))
    assert.equal(kept.length, MAX_REMEMBERED)
    assert.equal(store.get('ancient'), undefined)
    assert.equal(store.get('s0'), 'sent')
    assert.equal(store.get(`s${MAX_REMEMBERED + 1}`), undefined)
  })

  test('a delivered order is remembered for 30 days, not less', () => {
    const now = Date.now()
    const store = createStore(API_KEY, () => {})
    store.markSent('two-hours', now - 2 * 3_600_000)
    store.markSent('29-days', now - 29 * 24 * 3_600_000)
    store.markSent('31-days', now - 31 * 24 * 3_600_000)
    pruneAndListPending(store, () => now)
    assert.equal(store.get('two-hours'), 'sent')
    assert.equal(store.get('29-days'), 'sent')
    assert.equal(store.get('31-days'), undefined)
  })

  test(`past ${MAX_REMEMBERED} delivered orders, the most recently delivered are kept, whatever the order stored`, () => {
    const now = Date.now()
    const store = createStore(API_KEY, () => {})
    // Stored oldest last: the ones to forget are the last written, not the first.
    for (let i = 0; i < MAX_REMEMBERED + 3; i++) store.markSent(`r${i}`, now - 10 * i)
    pruneAndListPending(store, () => now)
    assert.equal(store.get('r0'), 'sent')
    assert.equal(store.get(`r${MAX_REMEMBERED - 1}`), 'sent')
    assert.equal(store.get(`r${MAX_REMEMBERED}`), undefined)
    assert.equal(store.get(`r${MAX_REMEMBERED + 2}`), undefined)
  })

  test('pending entries come oldest first', () => {
    const store = createStore(API_KEY, () => {})
    for (const [id, createdAt] of [
      ['b', 2],
      ['c', 3],
      ['a', 1],
    ] as const) {
      storage.setItem(
        key(id),
        JSON.stringify({ invitation: invitation(id), step: 'invite', attempts: 0, createdAt, nextAt: 0 }),
      )
    }
    assert.deepEqual(
      pruneAndListPending(store).map((e) => e.invitation.body.referenceId),
      ['a', 'b', 'c'],
    )
  })

  test('a stored record is used only if every field this version relies on is there and right', () => {
    const good = { invitation: invitation('v'), step: 'products', attempts: 1, createdAt: 1, nextAt: 2 }
    assert.deepEqual(parseRecord(JSON.stringify(good)), good)
    assert.deepEqual(parseRecord(JSON.stringify({ sent: 5 })), { sent: 5 })
    const broken: Array<[string, unknown]> = [
      [
        'email not a string',
        { ...good, invitation: { ...good.invitation, body: { ...good.invitation.body, recipientEmail: 1 } } },
      ],
      [
        'referenceId not a string',
        { ...good, invitation: { ...good.invitation, body: { ...good.invitation.body, referenceId: 1 } } },
      ],
      ['no body', { ...good, invitation: { products: [], productSkus: [] } }],
      ['products not a list', { ...good, invitation: { ...good.invitation, products: {} } }],
      ['productSkus not a list', { ...good, invitation: { ...good.invitation, productSkus: 'a' } }],
      ['unknown step', { ...good, step: 'done' }],
      ['attempts not a number', { ...good, attempts: '1' }],
      ['createdAt not finite', { ...good, createdAt: null }],
      ['nextAt missing', { ...good, nextAt: undefined }],
      ['a tombstone with more keys', { sent: 5, x: 1 }],
      ['a tombstone with no time', { sent: 'yesterday' }],
      ['null', null],
    ]
    for (const [why, record] of broken) assert.equal(parseRecord(JSON.stringify(record)), undefined, why)
    assert.equal(parseRecord('{nope'), undefined)
    assert.deepEqual(parseRecord(JSON.stringify({ ...good, step: 'invite' })), { ...good, step: 'invite' })
  })

  test('corrupt records are dropped with a warning', () => {
    const warnings: string[] = []
    storage.setItem(key('bad'), '{nope')
    storage.setItem(key('odd'), JSON.stringify({ sent: 'yesterday' }))
    storage.setItem('someone-else', 'untouched')
    const store = createStore(API_KEY, (m) => warnings.push(m))
    assert.deepEqual(pruneAndListPending(store), [])
    assert.equal(warnings.length, 2)
    assert.match(warnings[0] ?? '', /is not valid; ignored it/)
    assert.equal(storage.getItem(key('bad')), null)
    assert.equal(storage.getItem('someone-else'), 'untouched')
  })

  test('a full storage falls back to memory, keeping what it had, and the page is told once', () =>
    inAPage(() => {
      const warnings: string[] = []
      const store = createStore(API_KEY, (m) => warnings.push(m))
      store.markSent('kept', Date.now())
      assert.equal(store.lasting(), true)
      storage.failWrites = true
      store.markSent('new', Date.now())
      store.markSent('newer', Date.now())
      assert.deepEqual(warnings, [
        'localStorage failed (QuotaExceededError); pending invitations are kept in memory for this page only, and end with it',
      ])
      assert.equal(store.lasting(), false)
      assert.equal(store.get('kept'), 'sent')
      assert.equal(store.get('new'), 'sent')
    }))

  /** Runs `body` with no localStorage at all, as in Node or a sandboxed iframe. */
  function withoutLocalStorage(body: () => void | Promise<void>) {
    const saved = (globalThis as { localStorage?: Storage }).localStorage
    delete (globalThis as { localStorage?: Storage }).localStorage
    return Promise.resolve()
      .then(body)
      .finally(() => {
        ;(globalThis as { localStorage?: Storage }).localStorage = saved
      })
  }

  test('no localStorage at all, off a page (Node, a worker): memory, and nothing to say', () =>
    withoutLocalStorage(() => {
      const warnings: string[] = []
      const store = createStore(API_KEY, (m) => warnings.push(m))
      store.markSent('m', Date.now())
      assert.equal(store.get('m'), 'sent')
      assert.equal(store.lasting(), false)
      assert.deepEqual(warnings, [])
    }))

  test('no localStorage at all on a page (a sandboxed iframe): memory, and one warning', () =>
    withoutLocalStorage(() =>
      inAPage(() => {
        const warnings: string[] = []
        const store = createStore(API_KEY, (m) => warnings.push(m))
        store.markSent('m', Date.now())
        store.markSent('n', Date.now())
        assert.equal(store.get('m'), 'sent')
        assert.equal(warnings.length, 1)
        assert.match(warnings[0] ?? '', /^localStorage failed \(ReferenceError\); .* kept in memory for this page only/)
      }),
    ))
})

describe('lock names', () => {
  test("no entry's lock can be named as a page's owner lock, whatever the integration key", () => {
    for (const apiKey of ['owner', '/owner', 'owner:x', 'key']) {
      const entryLock = entryLockName(apiKey, 'x')
      assert.ok(!entryLock.startsWith(OWNER_LOCK_PREFIX), `${apiKey}: ${entryLock}`)
    }
    assert.equal(ownerLockName('page1'), `${OWNER_LOCK_PREFIX}page1`)
  })
})
