/**
 * The entry (plugin.ts) as the shop sees it: what each outcome tells the host page (its events, the
 * event's log, the console only with debug), and how the page's own events (pagehide, pageshow)
 * reach delivery, even before the delivery module is there.
 */
import assert from 'node:assert/strict'
import { after, afterEach, before, describe, mock, test } from 'node:test'
import type { Context, Plugin } from '@segment/analytics-next'
import { createPlugin } from '../src/plugin'
import { resolveSettings } from '../src/settings'
import { API_KEY, pendingEntry, SEED_PROPERTIES } from './support/fixtures'
import {
  fakeTrustpilotPage,
  keptOrders,
  pageWith,
  realModule,
  sleep,
  storageKeyOf,
  unloadPages,
  until,
} from './support/helpers'

// msw's fake Trustpilot and a fresh localStorage per test, as every page-level test file has them.
const env = fakeTrustpilotPage()
const { fake } = env
// Node has no window events: give globalThis an EventTarget's, as a page has.
const target = new EventTarget()
const events = globalThis as unknown as Record<string, unknown>
const METHODS = ['addEventListener', 'removeEventListener', 'dispatchEvent']
before(() => {
  for (const method of METHODS) {
    events[method] = (target as unknown as Record<string, (...args: never[]) => unknown>)[method]!.bind(target)
  }
})
after(() => {
  for (const method of METHODS) delete events[method]
})
afterEach(unloadPages)

const key = storageKeyOf

/** Records console.info, warn and error while `run` runs. */
async function console_(run: () => Promise<void>) {
  const calls: Array<[string, unknown[]]> = []
  const mocks = (['info', 'warn', 'error'] as const).map((level) =>
    mock.method(console, level, (...args: unknown[]) => calls.push([level, args])),
  )
  try {
    await run()
  } finally {
    for (const m of mocks) m.mock.restore()
  }
  return calls
}

/** One order sent, one refused (400), one skipped; what the console heard meanwhile. */
async function sentFailedSkipped(settings: Record<string, unknown>) {
  let statuses: string[] = []
  const calls = await console_(async () => {
    fake.script.push(201)
    const page = await pageWith({ settings })
    await page.track({ ...SEED_PROPERTIES, order_id: 'ok' }).result
    await until(() => page.outcomes.length === 1)
    fake.script.push(400)
    await page.track({ ...SEED_PROPERTIES, order_id: 'refused' }).result
    await until(() => page.outcomes.length === 2)
    await page.track({ order_id: 'no-email' }).result
    statuses = page.outcomes.map((o) => o.status)
  })
  assert.deepEqual(statuses, ['sent', 'failed', 'skipped'])
  return calls
}

describe('what the host page hears', () => {
  test('without debug, the console hears nothing, whatever happens', async () => {
    assert.deepEqual(await sentFailedSkipped({}), [])
  })

  test('with debug: sent is info, with the invitation; failed is an error; skipped a warning', async () => {
    const calls = await sentFailedSkipped({ debug: true })
    assert.deepEqual(
      calls.map(([level, args]) => [level, args.length]),
      [
        ['info', 2],
        ['error', 2],
        ['warn', 1],
      ],
    )
    assert.equal(calls[0]?.[1][0], 'Trustpilot sent ok: accepted by Trustpilot')
    assert.equal(
      (calls[0]?.[1][1] as { body?: { recipientEmail?: string } } | undefined)?.body?.recipientEmail,
      SEED_PROPERTIES.email,
    )
    assert.match(
      String(calls[1]?.[1][0]),
      /^Trustpilot failed refused: Trustpilot rejected the invitation \(HTTP 400\)/,
    )
    assert.match(String(calls[2]?.[1][0]), /^Trustpilot skipped no-email: no email/)
  })

  test("a failure is also analytics-next's 'error' event, as its Segment.io plugin reports one", async () => {
    fake.script.push(400)
    const page = await pageWith()
    await page.track({ ...SEED_PROPERTIES, order_id: 'refused' }).result
    await until(() => page.outcomes.length === 1)
    const failed = page.outcomes[0]
    assert.equal(failed?.status, 'failed')
    assert.deepEqual(
      page.emitted.map((e) => e.name),
      ['trustpilot', 'error'],
    )
    assert.deepEqual(page.emitted[1]?.payload, {
      code: 'delivery_failure',
      reason: failed?.status === 'failed' ? failed.error : undefined,
      ctx: undefined,
    })
    assert.equal((page.emitted[1]?.payload as { reason?: Error } | undefined)?.reason?.name, 'InvitationRejectedError')
  })

  test("a skip is logged to the order's event as a warning; the 'trustpilot' event alone is emitted", async () => {
    const page = await pageWith()
    const { result, logs } = page.track({ order_id: 'no-email' })
    await result
    assert.deepEqual(logs, [
      ['warn', "Trustpilot skipped no-email: no email in properties.email, context.traits.email or the user's traits"],
    ])
    assert.deepEqual(
      page.emitted.map((e) => e.name),
      ['trustpilot'],
    )
  })

  test('a skip with no reference says so in the log, with no reference', async () => {
    const page = await pageWith()
    const { result, logs } = page.track({ email: SEED_PROPERTIES.email })
    await result
    assert.deepEqual(logs, [['warn', 'Trustpilot skipped: properties.order_id is missing']])
  })

  test('a listener of the host page that throws, without debug: delivery goes on, the console hears nothing', async () => {
    const calls = await console_(async () => {
      fake.script.push(201, 400)
      const emit = () => {
        throw new Error('listener bug')
      }
      const page = await pageWith({ analytics: { emit } })
      await page.track({ ...SEED_PROPERTIES, order_id: 'quiet' }).result
      await page.track({ ...SEED_PROPERTIES, order_id: 'quiet-refused' }).result
      await until(() => env.storage.getItem(key('quiet'))?.startsWith('{"sent"') ?? false)
      await until(() => fake.requests.length === 2)
    })
    assert.deepEqual(calls, [])
  })

  test('a listener of the host page that throws breaks nothing; with debug it is named on the console', async () => {
    const boom = new Error('listener bug')
    const calls = await console_(async () => {
      fake.fallback = 201
      const page = await pageWith({
        settings: { debug: true },
        analytics: {
          emit: () => {
            throw boom
          },
        },
      })
      await page.track({ ...SEED_PROPERTIES, order_id: 'loud' }).result
      await until(() => env.storage.getItem(key('loud'))?.startsWith('{"sent"') ?? false)
    })
    assert.deepEqual(
      calls.filter(([level]) => level === 'error'),
      [['error', ['Trustpilot: an outcome listener threw', boom]]],
    )
  })

  for (const debug of [true, false]) {
    test(`a delivery module that fails to load on a checkout event: ${debug ? 'with debug, named on the console' : 'without debug, the console hears nothing'}`, async () => {
      let tried = 0
      const calls = await console_(async () => {
        const page = await pageWith({
          load: () => {
            tried++
            return Promise.reject(new Error('blocked'))
          },
          settings: { debug },
        })
        const ctx = {
          event: { type: 'track', event: 'Checkout Started', properties: {} },
          log() {},
        } as unknown as Context
        ;(page.plugin as Required<Plugin>).track(ctx)
        await sleep(10)
      })
      assert.equal(tried, 1, 'the checkout event tried to load the module')
      assert.deepEqual(
        calls,
        debug ? [['warn', ['Trustpilot: the delivery module did not load (Error: blocked)']]] : [],
      )
    })
  }
})

describe('the one outcome the entry reports itself: the delivery module did not load', () => {
  const failing = () => Promise.reject(new Error('blocked'))
  const REASON =
    'the delivery module did not load (Error: blocked); the order is kept until it loads, here or on a later page'

  for (const debug of [true, false]) {
    test(`the event's log has its line at level warn; ${debug ? 'with debug, the console the same line' : 'without debug, the console nothing'}`, async () => {
      let logs: Array<[string, string]> = []
      const calls = await console_(async () => {
        const page = await pageWith({ load: failing, settings: { debug } })
        const tracked = page.track({ ...SEED_PROPERTIES, order_id: 'o-1' })
        await tracked.result
        logs = tracked.logs
      })
      const line = `Trustpilot retrying o-1: ${REASON}`
      assert.deepEqual(logs, [['warn', line]])
      assert.deepEqual(calls, debug ? [['warn', [line]]] : [])
    })
  }

  test('an order with no order_id, or no properties at all: the line names no reference, and track resolves', async () => {
    const page = await pageWith({ load: failing })
    const without = page.track({ email: 'a@example.com' })
    await without.result
    assert.deepEqual(without.logs, [['warn', `Trustpilot retrying: ${REASON}`]])
    const bare = page.track(undefined as never, { properties: undefined })
    assert.equal(await bare.result, bare.ctx)
    assert.deepEqual(
      page.outcomes.map((o) => [o.status, o.referenceId]),
      [
        ['retrying', undefined],
        ['retrying', undefined],
      ],
    )
  })

  test('a plugin analytics-next never loaded (no instance to emit on): track still resolves, with the line logged', async () => {
    const plugin = createPlugin(resolveSettings({ apiKey: API_KEY, timeoutMs: 200 }), failing)
    const logs: string[] = []
    const ctx = {
      event: { type: 'track', event: 'Order Completed', properties: SEED_PROPERTIES, messageId: 'never-loaded' },
      log: (_level: string, message: string) => logs.push(message),
    } as unknown as Context
    assert.equal(await (plugin as Required<Plugin>).track(ctx), ctx)
    assert.match(logs[0] ?? '', /^Trustpilot retrying /)
    plugin.unload?.({} as Context, {} as never)
  })
})

describe('dryRun, for a staging site', () => {
  test('a valid order is mapped and skipped: nothing to Trustpilot, nothing stored, and the console stays quiet', async () => {
    const calls = await console_(async () => {
      const page = await pageWith({ settings: { dryRun: true } })
      const { result, logs } = page.track({ ...SEED_PROPERTIES, order_id: 'staging-1' })
      await result
      await until(() => page.outcomes.length === 1)
      assert.deepEqual(page.outcomes, [{ status: 'skipped', referenceId: 'staging-1', reason: 'dry run: not sent' }])
      assert.deepEqual(logs, [['warn', 'Trustpilot skipped staging-1: dry run: not sent']])
      // An invalid order still gets its own reason.
      await page.track({ order_id: 'no-email' }).result
      await until(() => page.outcomes.length === 2)
      assert.match(page.outcomes[1]?.reason ?? '', /^no email/)
    })
    await sleep(50)
    assert.equal(fake.requests.length, 0, 'sent to Trustpilot')
    assert.deepEqual(env.storage.keys(), [], 'left in storage')
    assert.deepEqual(calls, [])
  })

  test('with debug, the invitation that would have gone is logged; with trackOutcomes, the skip reaches Segment', async () => {
    const tracked: unknown[][] = []
    const calls = await console_(async () => {
      const page = await pageWith({
        settings: { dryRun: true, debug: true, trackOutcomes: true },
        analytics: { track: (...args: unknown[]) => tracked.push(args) },
      })
      await page.track({ ...SEED_PROPERTIES, order_id: 'staging-2' }).result
      await until(() => page.outcomes.length === 1)
    })
    assert.equal(calls.length, 1)
    assert.equal(calls[0]?.[0], 'warn')
    assert.equal(calls[0]?.[1][0], 'Trustpilot skipped staging-2: dry run: not sent')
    const invitation = calls[0]?.[1][1] as { body: Record<string, unknown>; productSkus: string[] }
    assert.equal(invitation.body.recipientEmail, SEED_PROPERTIES.email)
    assert.equal(invitation.body.referenceId, 'staging-2')
    assert.deepEqual(tracked, [
      [
        'Review Invitation Skipped',
        { order_id: 'staging-2', reason: 'dry run: not sent', provider: 'Trustpilot', transport: 'api' },
        { integrations: { Trustpilot: false } },
      ],
    ])
    assert.equal(fake.requests.length, 0)
    assert.deepEqual(env.storage.keys(), [])
  })

  test('an order the entry kept before the module came is dropped from storage too', async () => {
    let arrive: () => void = () => {}
    const arrived = new Promise<void>((resolve) => {
      arrive = resolve
    })
    const page = await pageWith({ load: () => arrived.then(realModule), settings: { dryRun: true } })
    const { result } = page.track({ ...SEED_PROPERTIES, order_id: 'staging-3' })
    await sleep(10)
    assert.equal(keptOrders(env.storage).length, 1, 'kept first')
    arrive()
    await result
    await until(() => page.outcomes.length === 1)
    assert.equal(page.outcomes[0]?.reason, 'dry run: not sent')
    assert.deepEqual(env.storage.keys(), [])
    assert.equal(fake.requests.length, 0)
  })
})

describe('orders the entry keeps', () => {
  test('orders without a messageId are each kept, under keys of their own', async () => {
    const page = await pageWith({ load: () => new Promise(() => {}), settings: { timeoutMs: 20 } })
    await Promise.all([
      page.track({ ...SEED_PROPERTIES, order_id: 'a' }, { messageId: undefined }).result,
      page.track({ ...SEED_PROPERTIES, order_id: 'b' }, { messageId: undefined }).result,
    ])
    assert.equal(keptOrders(env.storage).length, 2)
  })

  test("a module that can't load: the outcome names a numeric order_id as text, and none when there is none", async () => {
    const offline = new Error('offline')
    const page = await pageWith({ load: () => Promise.reject(offline) })
    await page.track({ ...SEED_PROPERTIES, order_id: 1234 }).result
    await page.track({ email: 'a@b.c' }).result
    assert.deepEqual(
      page.outcomes.map((o) => [o.status, o.referenceId]),
      [
        ['retrying', '1234'],
        ['retrying', undefined],
      ],
    )
    // The import's own error is kept, not only its words.
    assert.equal(page.outcomes[0]?.error?.cause, offline)
  })

  test('an order the entry cannot read is logged to its event, never thrown into the host page', async () => {
    const page = await pageWith({
      analytics: {
        user: () => {
          throw new Error('no user')
        },
      },
    })
    const { result, logs, ctx } = page.track(SEED_PROPERTIES)
    assert.equal(result, ctx)
    assert.deepEqual(logs, [['error', 'Trustpilot: could not handle the order: Error: no user']])
  })

  test('an invitation an earlier page left pending goes out once the module is here', async () => {
    env.storage.setItem(key('left'), JSON.stringify(pendingEntry('left')))
    const page = await pageWith()
    await until(() => page.outcomes.some((o) => o.status === 'sent'))
    assert.deepEqual(
      fake.requests.map((r) => r.body.referenceId),
      ['left'],
    )
  })
})

describe('used before, or without, the analytics instance load hands it', () => {
  test('orders still go out, with outcomes tracked, and nothing is thrown or logged as a fault', async (t) => {
    const calls = await console_(async () => {
      fake.script.push(201, 400)
      const plugin = createPlugin(
        resolveSettings({ apiKey: API_KEY, timeoutMs: 200, debug: true, trackOutcomes: true }),
        realModule,
      )
      t.after(() => plugin.unload?.({} as Context, {} as never))
      const track = (order_id: string) => {
        const logs: Array<[string, string]> = []
        const ctx = {
          event: { type: 'track', event: 'Order Completed', properties: { ...SEED_PROPERTIES, order_id } },
          log: (level: string, message: string) => logs.push([level, message]),
        } as unknown as Context
        return { result: (plugin as Required<Plugin>).track(ctx), logs }
      }
      const sent = track('without-analytics')
      await sent.result
      await until(() => env.storage.getItem(key('without-analytics'))?.startsWith('{"sent"') ?? false)
      const refused = track('refused-without-analytics')
      await refused.result
      await until(() => fake.requests.length === 2)
      await sleep(20)
      assert.deepEqual([...sent.logs, ...refused.logs], [])
    })
    assert.deepEqual(
      fake.requests.map((r) => r.body.referenceId),
      ['without-analytics', 'refused-without-analytics'],
    )
    // Debug is on: the outcomes themselves are logged, and nothing else (no listener or track fault).
    assert.deepEqual(
      calls.map(([level, [message]]) => [level, message]),
      [
        ['info', 'Trustpilot sent without-analytics: accepted by Trustpilot'],
        ['error', 'Trustpilot failed refused-without-analytics: Trustpilot rejected the invitation (HTTP 400)'],
      ],
    )
  })
})

describe('with destination middleware, track settles with its event once the order is taken', () => {
  test('the first order loads the module, the next finds it there: both delivered on this page', async () => {
    const page = await pageWith()
    page.plugin.addMiddleware(({ payload, next }) => next(payload))
    for (const order_id of ['loads-the-module', 'finds-it-there']) {
      const { result, ctx } = page.track({ ...SEED_PROPERTIES, order_id })
      assert.equal(await result, ctx)
    }
    const sent = () => [...new Set(fake.requests.map((r) => r.body.referenceId))]
    await until(() => sent().length === 2)
    assert.deepEqual(sent(), ['loads-the-module', 'finds-it-there'])
  })
})

describe("the page's own events", () => {
  test('pagehide before the module arrives still counts: a request cut by the teardown leaves the order as stored', async () => {
    let arrive: () => void = () => {}
    const page = await pageWith({
      load: () => new Promise((resolve) => (arrive = () => resolve(realModule()))),
      settings: { timeoutMs: 1_000 },
    })
    fake.script.push('network-error')
    const { result } = page.track({ ...SEED_PROPERTIES, order_id: 'torn' })
    globalThis.dispatchEvent(new Event('pagehide'))
    arrive()
    await result
    await sleep(200)
    assert.equal(fake.requests.length, 1)
    assert.deepEqual(page.outcomes, [], 'no retry counted, nothing reported')
    assert.equal(JSON.parse(env.storage.getItem(key('torn')) ?? '{}').attempts, 0)
  })

  test('back from the back/forward cache (pageshow), a failure is the outbox’s again', async () => {
    const page = await pageWith()
    await page.track({ ...SEED_PROPERTIES, order_id: 'first' }).result
    await until(() => page.outcomes.length === 1)
    globalThis.dispatchEvent(new Event('pagehide'))
    globalThis.dispatchEvent(new Event('pageshow'))
    fake.script.push(500)
    await page.track({ ...SEED_PROPERTIES, order_id: 'after' }).result
    await until(() => page.outcomes.length === 2)
    assert.equal(page.outcomes[1]?.status, 'retrying')
  })

  test('a plugin analytics-next runs: a destination, loaded at once, a dev version outside a build', async () => {
    const { plugin } = await pageWith()
    assert.deepEqual(
      [plugin.name, plugin.type, plugin.version, plugin.isLoaded()],
      ['Trustpilot', 'destination', '0.0.0-dev', true],
    )
  })
})
