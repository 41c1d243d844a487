/**
 * The soak's goals (test/support/soak-goals.ts): each is met by a good run and missed by a trail that
 * breaks what it guards, including the trails of a run that measured nothing.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { judgeSoak, type SoakTrail, type TrailRequest } from './support/soak-goals'

const HANG_MS = 15_000
const body = (ref: string) => ({ referenceId: ref, recipientEmail: `${ref}@example.com`, products: [] })
const request = (ref: string, at: number, status: TrailRequest['status'] = 201): TrailRequest => ({
  at,
  body: body(ref),
  status,
})

/** A good run: ten orders planned, received and created once each, 100 steps without a fault. */
function goodRun(): SoakTrail {
  const ids = Array.from({ length: 10 }, (_, i) => `o-${i}`)
  return {
    planned: ids,
    received: new Set(ids),
    requests: ids.map((id, i) => request(id, 1_000 * i)),
    deaths: [],
    births: [0],
    hangMs: HANG_MS,
    steps: 100,
    faults: 0,
  }
}
const missed = (trail: SoakTrail) =>
  judgeSoak(trail)
    .goals.filter((g) => !g.met)
    .map((g) => g.name)

describe('soak goals', () => {
  test('a good run meets every goal', () => {
    assert.deepEqual(missed(goodRun()), [])
  })

  test('an order a page received and Trustpilot never created is lost', () => {
    const trail = goodRun()
    trail.requests = trail.requests.filter((r) => r.body.referenceId !== 'o-3')
    const verdict = judgeSoak(trail)
    assert.deepEqual(verdict.lost, ['o-3'])
    assert.deepEqual(missed(trail), ['nothing received is lost'])
  })

  test('a run that planned nothing, or whose pages received nothing, misses its goals', () => {
    assert.ok(missed({ ...goodRun(), planned: [], received: new Set(), requests: [] }).length >= 2)
    const nothingReceived = missed({ ...goodRun(), received: new Set() })
    assert.ok(nothingReceived.includes('nothing received is lost'))
    assert.ok(nothingReceived.includes('pages received >= 90% of the planned orders'))
  })

  test('fewer than 90% of the planned orders received misses', () => {
    const trail = goodRun()
    trail.received = new Set(trail.planned.slice(0, 8))
    assert.deepEqual(missed(trail), ['pages received >= 90% of the planned orders'])
    trail.received = new Set(trail.planned.slice(0, 9))
    assert.deepEqual(missed(trail), [])
  })

  test('an order tracked twice stays in the denominator once, whatever its second call did', () => {
    // The driver plans each id once; the second `track` faulted (a fault of the driver), and no page
    // received the order at all: it still counts as planned and not received.
    const trail = goodRun()
    trail.received.delete('o-5')
    trail.requests = trail.requests.filter((r) => r.body.referenceId !== 'o-5')
    trail.faults = 1
    const verdict = judgeSoak(trail)
    assert.deepEqual(verdict.notReceived, ['o-5'])
    assert.match(verdict.goals[1]!.result, /^9\/10 /)
  })

  test('driver faults at 2% of the steps or more miss, and a run with no step measured nothing', () => {
    assert.deepEqual(missed({ ...goodRun(), faults: 2 }), ['driver faults < 2% of its steps'])
    assert.deepEqual(missed({ ...goodRun(), faults: 1 }), [])
    assert.ok(missed({ ...goodRun(), steps: 0 }).includes('driver faults < 2% of its steps'))
  })

  test('a duplicate with no page death near its first creation and no resend is unexplained', () => {
    const trail = goodRun()
    trail.requests.push(request('o-2', 9_000))
    assert.deepEqual(missed(trail), ['every duplicate tied to a page death or a browser resend'])
  })

  test('a duplicate after a page death in the creation window is explained', () => {
    const trail = goodRun()
    trail.requests.push(request('o-2', 9_000))
    // o-2 was first created at 2000: a page sent away 400 ms before, or 250 ms after, never heard it.
    for (const death of [1_600, 2_250]) assert.deepEqual(missed({ ...trail, deaths: [death] }), [])
    for (const death of [1_400, 2_400]) assert.equal(missed({ ...trail, deaths: [death] }).length, 1)
  })

  test("the browser's own resend of a dropped hung request is explained, a page's later send is not", () => {
    const trail = goodRun()
    // o-4 hung at 500 (the stand-in drops it at 15 500); a retry created it at 4000; the same body
    // arrives again 5 ms after the drop.
    trail.requests.push(request('o-4', 500, 'hang'), request('o-4', 500 + HANG_MS + 5))
    assert.deepEqual(missed(trail), [])
    const duplicate = judgeSoak(trail).duplicates[0]
    assert.equal(duplicate?.extra[0]?.cause, 'browser resend')
    // A new page opened just then could have sent it: not shown to be the browser's.
    assert.equal(missed({ ...trail, births: [500 + HANG_MS - 100] }).length, 1)
    // Long after the drop: no resend of the browser's.
    const late = goodRun()
    late.requests.push(request('o-4', 500, 'hang'), request('o-4', 500 + HANG_MS + 2_000))
    assert.equal(missed(late).length, 1)
    // Another body (another order's request): not the same request sent again.
    const other = goodRun()
    other.requests.push({ ...request('o-4', 500, 'hang'), body: { ...body('o-4'), products: [{ sku: 'x' }] } })
    other.requests.push(request('o-4', 500 + HANG_MS + 5))
    assert.equal(missed(other).length, 1)
  })
})
