import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, test } from 'node:test'
import { mapOrder } from '../src/mapping'
import { resolveSettings } from '../src/settings'
import { parseRetryAfter } from '../src/transport'
import { API_KEY, DEFAULT_ENDPOINT, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from './fixtures'
import { fakeTrustpilot } from './handlers'
import { mswServer, outboxUnderTest } from './helpers'

const fake = fakeTrustpilot()
const server = mswServer(fake)
before(() => server.listen({ onUnhandledRequest: 'error' }))
after(() => server.close())
beforeEach(() => {
  fake.requests.length = 0
  fake.script.length = 0
  fake.fallback = 'protocol'
})

const seedInvitation = () => {
  const mapped = mapOrder(
    { type: 'track', event: 'Order Completed', properties: SEED_PROPERTIES },
    {},
    resolveSettings({ apiKey: API_KEY }),
  )
  assert.ok('invitation' in mapped)
  return mapped.invitation
}

describe('Trustpilot protocol over fetch (msw)', () => {
  test('202 then 201: the same POST again with products', async () => {
    const { outbox, settled } = outboxUnderTest()
    outbox.submit(seedInvitation())
    assert.deepEqual(await settled(), {
      status: 'sent',
      referenceId: SEED_FIRST_BODY.referenceId,
      reason: 'accepted by Trustpilot',
    })
    assert.equal(fake.requests.length, 2)
    const [first, second] = fake.requests
    assert.equal(first?.url, `${DEFAULT_ENDPOINT}/api/${API_KEY}/invitation`)
    assert.equal(first?.contentType, 'application/json')
    assert.deepEqual(first?.body, SEED_FIRST_BODY)
    assert.deepEqual(second?.body, SEED_SECOND_BODY)
  })

  test('201 at once: one request', async () => {
    fake.fallback = 201
    const { outbox, settled } = outboxUnderTest()
    outbox.submit(seedInvitation())
    assert.equal((await settled()).status, 'sent')
    assert.equal(fake.requests.length, 1)
  })

  test('an order with no products gets empty arrays in the second request', async () => {
    const { outbox, settled } = outboxUnderTest()
    const invitation = { ...seedInvitation(), products: [], productSkus: [] }
    outbox.submit(invitation)
    await settled()
    assert.deepEqual(fake.requests[1]?.body.products, [])
    assert.deepEqual(fake.requests[1]?.body.productSkus, [])
  })

  test('the integration key is URL-encoded into the path', async () => {
    const { outbox, settled } = outboxUnderTest({ apiKey: 'a/b c' })
    outbox.submit(seedInvitation())
    await settled()
    assert.equal(fake.requests[0]?.url, `${DEFAULT_ENDPOINT}/api/a%2Fb%20c/invitation`)
  })

  for (const status of [251, 252, 253]) {
    test(`${status}: permanent failure, integration disabled or domain blocked`, async () => {
      fake.fallback = status
      const { outbox, settled } = outboxUnderTest()
      outbox.submit(seedInvitation())
      const event = await settled()
      assert.equal(event.status, 'failed')
      assert.ok(event.status === 'failed')
      assert.equal(event.error?.name, 'IntegrationDisabledError')
      assert.match(event.error?.message ?? '', /integration disabled or domain blocked/)
      assert.equal(fake.requests.length, 1, 'never retried')
    })
  }

  for (const status of [400, 401, 403, 404, 422]) {
    test(`${status}: permanent failure with the status`, async () => {
      fake.fallback = status
      const { outbox, settled } = outboxUnderTest()
      outbox.submit(seedInvitation())
      const event = await settled()
      assert.ok(event.status === 'failed')
      assert.equal(event.error?.name, 'InvitationRejectedError')
      assert.match(event.error?.message ?? '', new RegExp(`HTTP ${status}`))
      assert.equal(fake.requests.length, 1, 'never retried')
    })
  }

  const transient: Array<[string, 'network-error' | 'hang' | number, RegExp]> = [
    ['500', 500, /HTTP 500/],
    ['503', 503, /HTTP 503/],
    ['429', 429, /HTTP 429/],
    ['a network error', 'network-error', /network error/],
    // The first delivery is a keepalive request, which browsers can't cancel: it gets 3× timeoutMs.
    ['a hang (timeout)', 'hang', /no answer from Trustpilot within 900 ms/],
  ]
  for (const [name, behaviour, reason] of transient) {
    test(`${name}: transient, retried, then delivered`, async () => {
      fake.script.push(behaviour)
      const { outbox, settled, events } = outboxUnderTest()
      outbox.submit(seedInvitation())
      assert.equal((await settled()).status, 'sent')
      const retrying = events.find((e) => e.status === 'retrying')
      assert.ok(retrying?.status === 'retrying')
      assert.equal(retrying.error?.name, 'RetryableError')
      assert.match(retrying.error?.message ?? '', reason)
      assert.equal(fake.requests.length, 3, 'failed first request, then 202 and 201')
    })
  }

  test('a retry is no keepalive request and times out after timeoutMs', async () => {
    fake.script.push('hang', 'hang')
    const { outbox, settled, events } = outboxUnderTest()
    outbox.submit(seedInvitation())
    assert.equal((await settled()).status, 'sent')
    const reasons = events.flatMap((e) => (e.status === 'retrying' ? [e.error?.message] : []))
    assert.deepEqual(reasons, ['no answer from Trustpilot within 900 ms', 'no answer from Trustpilot within 300 ms'])
  })

  test('transient failures stop at maxAgeHours with a failure naming the age', async () => {
    fake.fallback = 500
    const { outbox, settled } = outboxUnderTest({ maxAgeHours: 0.0001 }) // 360 ms
    outbox.submit(seedInvitation())
    const event = await settled()
    assert.equal(event.error?.name, 'DeliveryAbandonedError')
    assert.match(event.reason, /gave up: older than 0\.0001 hours; last error: Trustpilot answered HTTP 500/)
    assert.equal(fake.requests.length, 2)
  })

  test('transient failures stop at maxAttempts with a failure naming the last error', async () => {
    fake.fallback = 500
    const { outbox, settled, events } = outboxUnderTest({ maxAttempts: 2 })
    outbox.submit(seedInvitation())
    const event = await settled()
    assert.ok(event.status === 'failed')
    assert.equal(event.error?.name, 'DeliveryAbandonedError')
    assert.match(event.error?.message ?? '', /gave up after 2 attempts; last error: Trustpilot answered HTTP 500/)
    assert.equal(fake.requests.length, 2)
    assert.equal(events.filter((e) => e.status === 'retrying').length, 1)
  })
})

describe('Retry-After', () => {
  test('seconds and dates', () => {
    assert.equal(parseRetryAfter('3'), 3000)
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000)
    assert.equal(parseRetryAfter('soon'), undefined)
    assert.equal(parseRetryAfter(null), undefined)
  })
})
