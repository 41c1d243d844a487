/**
 * Segment's controls over the plugin, in Node: destination middleware (`addMiddleware`, as
 * `analytics.addDestinationMiddleware` calls it) and outcomes tracked back into Segment
 * (`trackOutcomes`). The entry and the real delivery module, sending to msw's fake Trustpilot.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Context } from '@segment/analytics-next'
import type { TrustpilotMiddleware } from '../src/types'
import { SEED_PROPERTIES } from './support/fixtures'
import { fakeTrustpilotPage, keptOrders, pageWith, sleep, type Tracked, until } from './support/helpers'

const env = fakeTrustpilotPage()
const { fake } = env

const sentReferences = () => fake.requests.map((request) => request.body.referenceId)

describe('destination middleware', () => {
  test('each gets a copy of the whole event, in the order added, and the last one hands on what is mapped', async () => {
    const seen: Array<{ integration: string; orderId: unknown; url: unknown; userId: unknown }> = []
    const page = await pageWith({
      middleware: [
        ({ payload, integration, next }) => {
          seen.push({
            integration,
            orderId: payload.obj.properties.order_id,
            url: payload.obj.context.page.url,
            userId: payload.obj.userId,
          })
          payload.obj.properties.order_id = 'first-changed'
          next(payload)
        },
        async ({ payload, integration, next }) => {
          await sleep(10)
          seen.push({ integration, orderId: payload.obj.properties.order_id, url: undefined, userId: undefined })
          next({ obj: { ...payload.obj, properties: { ...payload.obj.properties, order_id: 'second-changed' } } })
        },
      ],
    })
    const { ctx, result } = page.track(
      { ...SEED_PROPERTIES },
      { context: { page: { url: 'https://shop.example/thanks' } }, userId: 'u-1' },
    )
    await result
    await until(() => page.outcomes.some((o) => o.status === 'sent'))
    assert.deepEqual(seen, [
      {
        integration: 'Trustpilot',
        orderId: SEED_PROPERTIES.order_id,
        url: 'https://shop.example/thanks',
        userId: 'u-1',
      },
      { integration: 'Trustpilot', orderId: 'first-changed', url: undefined, userId: undefined },
    ])
    assert.deepEqual(sentReferences(), ['second-changed', 'second-changed'])
    // A copy: the event analytics-next holds (and hands to other destinations) is not changed.
    assert.equal((ctx.event.properties as Record<string, unknown>).order_id, SEED_PROPERTIES.order_id)
  })

  for (const [how, middleware] of [
    ['next(null)', (({ next }) => next(null)) as TrustpilotMiddleware],
    ['returning without next', (() => {}) as TrustpilotMiddleware],
    ['next with no payload object', (({ next }) => next({} as never)) as TrustpilotMiddleware],
    ['next({ obj: null })', (({ next }) => next({ obj: null } as never)) as TrustpilotMiddleware],
  ] as const) {
    // Also with a middleware after it that would pass on whatever it got: the drop is final.
    for (const [where, chain] of [
      ['', [middleware]],
      [', before one that passes it on', [middleware, ({ payload, next }) => next(payload)]],
    ] as Array<[string, TrustpilotMiddleware[]]>) {
      test(`${how}${where} drops the order: nothing sent, skipped "dropped by destination middleware"`, async () => {
        const page = await pageWith({ middleware: chain })
        await page.track({ ...SEED_PROPERTIES, order_id: 'dropped' }).result
        await until(() => page.outcomes.length > 0)
        assert.deepEqual(page.outcomes, [
          { status: 'skipped', referenceId: 'dropped', reason: 'dropped by destination middleware' },
        ])
        await sleep(30)
        assert.deepEqual(fake.requests, [])
        assert.deepEqual(keptOrders(env.storage), [], 'a dropped order is final: no longer kept')
      })
    }
  }

  test('one that throws: skipped with a reason saying so, never sent unmodified, nothing thrown', async () => {
    const page = await pageWith({
      middleware: [
        () => {
          throw new TypeError('test@example.com is not allowed')
        },
      ],
    })
    await page.track({ ...SEED_PROPERTIES, order_id: 'threw' }).result
    await until(() => page.outcomes.length > 0)
    assert.deepEqual(page.outcomes, [
      { status: 'skipped', referenceId: 'threw', reason: 'destination middleware threw TypeError; not sent' },
    ])
    assert.deepEqual(fake.requests, [])
  })

  for (const [thrown, named] of [
    [null, 'object'],
    [undefined, 'undefined'],
    ['a string', 'string'],
  ] as const) {
    test(`one that throws ${String(thrown)} (no Error): skipped, the reason names its type`, async () => {
      const page = await pageWith({ middleware: [() => Promise.reject(thrown)] })
      await page.track({ ...SEED_PROPERTIES, order_id: 'threw' }).result
      await until(() => page.outcomes.length > 0)
      assert.deepEqual(page.outcomes, [
        { status: 'skipped', referenceId: 'threw', reason: `destination middleware threw ${named}; not sent` },
      ])
      assert.deepEqual(fake.requests, [])
    })
  }

  test('one that never finishes is given timeoutMs, then the order is skipped', async () => {
    const page = await pageWith({ settings: { timeoutMs: 100 }, middleware: [() => new Promise(() => {})] })
    const started = Date.now()
    await page.track({ ...SEED_PROPERTIES, order_id: 'hung' }).result
    const waited = Date.now() - started
    assert.ok(waited >= 90 && waited < 1_000, `track waited ${waited} ms`)
    assert.deepEqual(page.outcomes, [
      {
        status: 'skipped',
        referenceId: 'hung',
        reason: 'destination middleware did not finish within 100 ms; not sent',
      },
    ])
    assert.deepEqual(fake.requests, [])
  })

  test('the order is kept before any middleware runs, and a later page runs its own middleware on it', async () => {
    const first = await pageWith({ middleware: [() => new Promise(() => {})] })
    // The delivery module is loaded by the first order; the second one finds it there.
    first.track({ ...SEED_PROPERTIES, order_id: 'warm-up' })
    await until(() => first.outcomes.length > 0)
    first.track({ ...SEED_PROPERTIES, order_id: 'kept' })
    assert.equal(keptOrders(env.storage).length, 1, 'kept while the middleware runs, before track awaits anything')
    first.plugin.unload?.({} as Context, {} as never)

    const changedBy: string[] = []
    const later = await pageWith({
      middleware: [
        ({ payload, next }) => {
          changedBy.push(String(payload.obj.properties.order_id))
          payload.obj.properties.order_id = `${payload.obj.properties.order_id}-later`
          next(payload)
        },
      ],
    })
    await until(() => later.outcomes.some((o) => o.status === 'sent'))
    assert.deepEqual(changedBy, ['kept'])
    assert.deepEqual(sentReferences(), ['kept-later', 'kept-later'])
    assert.deepEqual(keptOrders(env.storage), [])
  })

  test('without middleware, an order goes to the module within track, as before', async () => {
    const page = await pageWith()
    await page.track({ ...SEED_PROPERTIES, order_id: 'first' }).result
    const { ctx, result } = page.track({ ...SEED_PROPERTIES, order_id: 'second' })
    assert.equal(result, ctx)
    assert.deepEqual(keptOrders(env.storage), [])
  })
})

describe('trackOutcomes', () => {
  const outcomeEvents = (tracked: Tracked[]) => tracked.map(({ event, properties }) => [event, properties])

  test('each final outcome is one track, with the reference, reason, provider and transport, and no personal data', async () => {
    const page = await pageWith({ settings: { trackOutcomes: true } })
    await page.track({ ...SEED_PROPERTIES, order_id: 'ok' }).result
    await until(() => page.tracked.length === 1)
    page.track({ order_id: 'no-email' })
    await until(() => page.tracked.length === 2)
    fake.script.push(400)
    page.track({ ...SEED_PROPERTIES, order_id: 'refused' })
    await until(() => page.tracked.length === 3)
    assert.deepEqual(outcomeEvents(page.tracked), [
      [
        'Review Invitation Sent',
        { order_id: 'ok', reason: 'accepted by Trustpilot', provider: 'Trustpilot', transport: 'api' },
      ],
      [
        'Review Invitation Skipped',
        {
          order_id: 'no-email',
          reason: "no email in properties.email, context.traits.email or the user's traits",
          provider: 'Trustpilot',
          transport: 'api',
        },
      ],
      [
        'Review Invitation Failed',
        {
          order_id: 'refused',
          reason: 'Trustpilot rejected the invitation (HTTP 400)',
          provider: 'Trustpilot',
          transport: 'api',
        },
      ],
    ])
    for (const { options } of page.tracked) assert.deepEqual(options, { integrations: { Trustpilot: false } })
    const everything = JSON.stringify(page.tracked)
    assert.doesNotMatch(everything, /test@example\.com|John|Johnson/)
  })

  test('none for retrying, none for the same order again, and none for a reference that was not valid', async () => {
    const page = await pageWith({ settings: { trackOutcomes: true } })
    fake.script.push(503)
    await page.track({ ...SEED_PROPERTIES, order_id: 'flaky' }).result
    await until(() => page.outcomes.some((o) => o.status === 'retrying'))
    await until(() => page.outcomes.some((o) => o.status === 'sent'), 5_000)
    page.track({ ...SEED_PROPERTIES, order_id: 'flaky' })
    await until(() => page.outcomes.some((o) => o.reason === 'already invited or pending'))
    page.track({ ...SEED_PROPERTIES, order_id: 'x'.repeat(256) })
    await until(() => page.tracked.length === 2)
    assert.deepEqual(
      page.tracked.map(({ event, properties }) => [event, properties.order_id]),
      [
        ['Review Invitation Sent', 'flaky'],
        ['Review Invitation Skipped', undefined],
      ],
    )
  })

  test('off by default: no track at all', async () => {
    const page = await pageWith()
    await page.track({ ...SEED_PROPERTIES, order_id: 'quiet' }).result
    page.track({ order_id: 'no-email' })
    await until(() => page.outcomes.filter((o) => o.status !== 'retrying').length === 2)
    assert.deepEqual(page.tracked, [])
  })

  test('a middleware-dropped order is tracked as skipped, with the reason', async () => {
    const page = await pageWith({ settings: { trackOutcomes: true }, middleware: [({ next }) => next(null)] })
    await page.track({ ...SEED_PROPERTIES, order_id: 'gated' }).result
    await until(() => page.tracked.length === 1)
    assert.deepEqual(outcomeEvents(page.tracked), [
      [
        'Review Invitation Skipped',
        { order_id: 'gated', reason: 'dropped by destination middleware', provider: 'Trustpilot', transport: 'api' },
      ],
    ])
  })
})
