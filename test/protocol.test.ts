import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { HttpResponse, http } from 'msw'
import {
  DeliveryAbandonedError,
  IntegrationDisabledError,
  InvitationRejectedError,
  RetryableError,
} from '../src/errors'
import { TimeoutError } from '../src/middleware'
import { backoffMs } from '../src/outbox'
import { resolveSettings } from '../src/settings'
import { withTimeout } from '../src/timeout'
import {
  apiTransport,
  BLOCKED,
  interpretStatus,
  invitationUrl,
  NO_PAGE_ORIGIN,
  OPAQUE_ORIGIN,
  pageOrigin,
  parseRetryAfter,
  type Step,
} from '../src/transport'
import {
  API_KEY,
  DEFAULT_ENDPOINT,
  SEED_FIRST_BODY,
  SEED_PROPERTIES,
  SEED_SECOND_BODY,
  SEED_SENT,
} from './support/fixtures'
import { fakeTrustpilotPage, invitationOf, outboxUnderTest } from './support/helpers'

// A fresh localStorage for each test, as a page has: the protocol's two requests are a page's that can
// store (a page that can't sends the products at once: the courier's tests).
const { fake, server } = fakeTrustpilotPage()

const seedInvitation = () => invitationOf(SEED_PROPERTIES)

describe('Trustpilot protocol over fetch (msw)', () => {
  test('202 then 201: the same POST again with products', async () => {
    const { outbox, settled } = outboxUnderTest()
    outbox.submit(seedInvitation())
    assert.deepEqual(await settled(), SEED_SENT)
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
    // The relay's answer to a body that did not arrive within its bodyTimeoutMs.
    ['408', 408, /HTTP 408/],
    ['a network error', 'network-error', /network error/],
    // The first delivery is a keepalive request, which browsers can't cancel: it gets 3× timeoutMs.
    ['a hang (timeout)', 'hang', /no answer from Trustpilot within 300 ms/],
  ]
  for (const [name, behaviour, reason] of transient) {
    test(`${name}: transient, retried, then delivered`, async () => {
      fake.script.push(behaviour)
      const { outbox, settled, events } = outboxUnderTest({ timeoutMs: 100 })
      outbox.submit(seedInvitation())
      // Back online: the retry goes at once instead of after its backoff (and the test is quicker).
      while (!events.length) await new Promise((r) => setTimeout(r, 5))
      outbox.retryNow()
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
    const { outbox, settled, events } = outboxUnderTest({ timeoutMs: 100 })
    outbox.submit(seedInvitation())
    for (const count of [1, 2]) {
      while (events.length < count) await new Promise((r) => setTimeout(r, 5))
      outbox.retryNow()
    }
    assert.equal((await settled()).status, 'sent')
    const reasons = events.flatMap((e) => (e.status === 'retrying' ? [e.error?.message] : []))
    assert.deepEqual(reasons, ['no answer from Trustpilot within 300 ms', 'no answer from Trustpilot within 100 ms'])
    assert.deepEqual(
      fake.requests.map((r) => r.keepalive),
      [true, false, false, false],
    )
  })

  test('transient failures stop at maxAgeHours with a failure naming the age', async () => {
    fake.fallback = 500
    const { outbox, settled, events } = outboxUnderTest({ maxAgeHours: 0.0001 }) // 360 ms
    outbox.submit(seedInvitation())
    while (!events.length) await new Promise((r) => setTimeout(r, 5))
    await new Promise((r) => setTimeout(r, 360))
    outbox.retryNow()
    const event = await settled()
    assert.equal(event.error?.name, 'DeliveryAbandonedError')
    assert.match(event.reason, /gave up: older than 0\.0001 hours; last error: Trustpilot answered HTTP 500/)
    assert.equal(fake.requests.length, 2)
  })

  test('transient failures stop at maxAttempts with a failure naming the last error', async () => {
    fake.fallback = 500
    const { outbox, settled, events } = outboxUnderTest({ maxAttempts: 2 })
    outbox.submit(seedInvitation())
    while (!events.length) await new Promise((r) => setTimeout(r, 5))
    outbox.retryNow()
    const event = await settled()
    assert.ok(event.status === 'failed')
    assert.equal(event.error?.name, 'DeliveryAbandonedError')
    assert.match(event.error?.message ?? '', /gave up after 2 attempts; last error: Trustpilot answered HTTP 500/)
    // The last attempt's error itself, as the cause.
    assert.equal((event.error?.cause as Error | undefined)?.name, 'RetryableError')
    assert.equal((event.error?.cause as Error | undefined)?.message, 'Trustpilot answered HTTP 500')
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
    assert.equal(parseRetryAfter(''), undefined)
    assert.equal(parseRetryAfter('0'), 0)
    assert.equal(parseRetryAfter(new Date(1_000).toUTCString(), 4_000), 0, 'a date in the past: now')
  })
})

describe('what each status means', () => {
  const created: Array<[number, Step]> = [
    [200, 'invite'],
    [201, 'invite'],
    [204, 'invite'],
    [250, 'invite'],
    [254, 'invite'],
    [299, 'invite'],
    [201, 'products'],
    // A 202 to the products request: Trustpilot has what it asked for; asking again would loop.
    [202, 'products'],
  ]
  for (const [status, step] of created) {
    test(`${status} to the ${step} request: created`, () =>
      assert.equal(interpretStatus(status, step, null), 'created'))
  }
  test('202 to the first request: send again with products', () => {
    assert.equal(interpretStatus(202, 'invite', null), 'needs-products')
  })
  const failures: Array<[number, string, number | undefined]> = [
    [251, 'IntegrationDisabledError', 251],
    [253, 'IntegrationDisabledError', 253],
    [199, 'InvitationRejectedError', 199],
    [300, 'InvitationRejectedError', 300],
    [400, 'InvitationRejectedError', 400],
    [407, 'InvitationRejectedError', 407],
    [408, 'RetryableError', 408],
    [409, 'InvitationRejectedError', 409],
    [428, 'InvitationRejectedError', 428],
    [430, 'InvitationRejectedError', 430],
    [499, 'InvitationRejectedError', 499],
    [429, 'RetryableError', 429],
    [500, 'RetryableError', 500],
    [599, 'RetryableError', 599],
  ]
  for (const [status, name, carried] of failures) {
    test(`${status}: ${name}`, () => {
      assert.throws(
        () => interpretStatus(status, 'invite', null),
        (error: Error & { status?: number }) => {
          assert.equal(error.name, name)
          assert.equal(error.status, carried)
          return true
        },
      )
    })
  }
  test('Retry-After travels with a retryable answer, in milliseconds', () => {
    assert.throws(
      () => interpretStatus(503, 'invite', '7'),
      (error: RetryableError) => error.retryAfterMs === 7_000 && error.message === 'Trustpilot answered HTTP 503',
    )
  })
  test('each answer throws its class, with the message and status a shop sees', () => {
    const thrown = (status: number) => {
      try {
        interpretStatus(status, 'invite', null)
      } catch (error) {
        return error as InvitationRejectedError
      }
      assert.fail(`HTTP ${status} threw nothing`)
    }
    const disabled = thrown(252)
    assert.ok(disabled instanceof IntegrationDisabledError && disabled instanceof InvitationRejectedError)
    assert.deepEqual(
      [disabled.name, disabled.message, disabled.status],
      ['IntegrationDisabledError', 'Trustpilot integration disabled or domain blocked (HTTP 252)', 252],
    )
    const rejected = thrown(404)
    assert.deepEqual(
      [rejected.name, rejected.message, rejected.status],
      ['InvitationRejectedError', 'Trustpilot rejected the invitation (HTTP 404)', 404],
    )
  })
  test('the classes: a whole message, and only the optional fields given', () => {
    const cause = new TypeError('Failed to fetch')
    const retryable = new RetryableError('network error: Failed to fetch', { cause })
    assert.deepEqual([retryable.status, retryable.retryAfterMs, retryable.cause], [undefined, undefined, cause])
    assert.ok(!('status' in retryable), 'no field for what was not given')
    const answered = new RetryableError('Trustpilot answered HTTP 429', { status: 429, retryAfterMs: 5_000 })
    assert.deepEqual([answered.status, answered.retryAfterMs, answered.cause], [429, 5_000, undefined])
    assert.equal(new InvitationRejectedError('Trustpilot said no').status, undefined)
    const abandoned = new DeliveryAbandonedError('gave up', { cause })
    assert.deepEqual([abandoned.name, abandoned.message, abandoned.cause], ['DeliveryAbandonedError', 'gave up', cause])
    for (const error of [retryable, abandoned]) {
      // As Error keeps it: not enumerable, so JSON and spreads leave it out.
      assert.equal(Object.getOwnPropertyDescriptor(error, 'cause')?.enumerable, false)
    }
  })
})

describe('backoff', () => {
  test('exponential from 1 s, 50–100% jitter, capped at 10 minutes', () => {
    const at = (attempts: number, random: number) => backoffMs(attempts, () => random)
    assert.deepEqual(
      [at(1, 0), at(1, 1), at(2, 0), at(2, 1), at(3, 0.5), at(4, 0)],
      [500, 1_000, 1_000, 2_000, 3_000, 4_000],
    )
    assert.equal(at(11, 1), 600_000)
    assert.equal(at(30, 0), 300_000)
  })
})

describe('timeouts', () => {
  test('withTimeout rejects with what was awaited, calls onTimeout once, and leaves no timer', async () => {
    let calls = 0
    const never = new Promise<never>(() => {})
    await assert.rejects(
      withTimeout(never, 20, 'no answer', () => calls++),
      {
        name: 'RetryableError',
        message: 'no answer within 20 ms',
      },
    )
    assert.equal(calls, 1)
    assert.equal(await withTimeout(Promise.resolve(5), 1_000, 'x'), 5)
    assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, 0)
  })

  test('a wait that is not retried times out with a TimeoutError, not a RetryableError', async () => {
    const never = new Promise<never>(() => {})
    await assert.rejects(
      withTimeout(never, 10, 'destination middleware did not finish', undefined, TimeoutError),
      (error) => {
        assert.ok(error instanceof TimeoutError)
        assert.equal((error as Error).name, 'TimeoutError')
        assert.ok(!(error instanceof RetryableError))
        assert.equal((error as Error).message, 'destination middleware did not finish within 10 ms')
        return true
      },
    )
    await assert.rejects(withTimeout(never, 10, 'x'), RetryableError)
  })

  test('a timed-out request that is no keepalive is aborted', async () => {
    fake.script.push('hang')
    const settings = resolveSettings({ apiKey: API_KEY, timeoutMs: 100 })
    await assert.rejects(
      apiTransport(settings).send(seedInvitation(), 'invite', false),
      /no answer from Trustpilot within 100 ms/,
    )
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(fake.requests[0]?.keepalive, false)
    assert.equal(fake.requests[0]?.aborted, true)
  })

  test('a keepalive request gets 3× timeoutMs and is not aborted (browsers could not stop it anyway)', async () => {
    fake.script.push('hang')
    const settings = resolveSettings({ apiKey: API_KEY, timeoutMs: 50 })
    const started = Date.now()
    await assert.rejects(apiTransport(settings).send(seedInvitation(), 'invite', true), /within 150 ms/)
    assert.ok(Date.now() - started >= 140)
    assert.equal(fake.requests[0]?.keepalive, true)
    assert.equal(fake.requests[0]?.aborted, false)
  })
})

describe("a network error on Trustpilot's own host names a content blocker", () => {
  const failOn = (endpoint: string) =>
    server.use(http.post(`${endpoint}/api/:apiKey/invitation`, () => HttpResponse.error(), { once: true }))
  const sendTo = (endpoint: string) =>
    apiTransport(resolveSettings({ apiKey: API_KEY, endpoint })).send(seedInvitation(), 'invite', false)
  /**
   * Runs `body` with `navigator.onLine` as given, as a browser tells it, in a page (a `document`), or
   * off one (Node, Deno, Bun and workers have none).
   */
  async function online(onLine: boolean | undefined, body: () => Promise<void>, page = true) {
    const scope = globalThis as { navigator?: unknown; document?: unknown }
    Object.defineProperty(globalThis, 'navigator', {
      value: onLine === undefined ? {} : { onLine },
      configurable: true,
    })
    if (page) scope.document = {}
    try {
      await body()
    } finally {
      delete scope.navigator
      delete scope.document
    }
  }

  for (const endpoint of [DEFAULT_ENDPOINT, 'https://widget.trustpilot.com/x', 'https://trustpilot.com']) {
    test(`${endpoint}, online: the reason says a blocker is the likely cause and points to the relay`, () =>
      online(true, async () => {
        failOn(endpoint)
        await assert.rejects(sendTo(endpoint), {
          name: 'RetryableError',
          message: `network error: Failed to fetch; ${BLOCKED}`,
        })
        // fetch's own TypeError is kept as the cause.
        await online(true, async () => {
          failOn(endpoint)
          await assert.rejects(sendTo(endpoint), (error: Error) => error.cause instanceof TypeError)
        })
      }))
  }
  test('where nothing tells whether the page is online (no navigator.onLine): only the network error', () =>
    online(undefined, async () => {
      failOn(DEFAULT_ENDPOINT)
      await assert.rejects(sendTo(DEFAULT_ENDPOINT), { message: 'network error: Failed to fetch' })
    }))
  test('off a browser page (Node, Deno, Bun, a worker: no document), even online: only the network error', () =>
    online(
      true,
      async () => {
        failOn(DEFAULT_ENDPOINT)
        await assert.rejects(sendTo(DEFAULT_ENDPOINT), { message: 'network error: Failed to fetch' })
      },
      false,
    ))
  test('offline: only the network error', () =>
    online(false, async () => {
      failOn(DEFAULT_ENDPOINT)
      await assert.rejects(sendTo(DEFAULT_ENDPOINT), { message: 'network error: Failed to fetch' })
    }))
  // Blockers stop Trustpilot's host, not the shop's own relay or a host that only looks alike.
  for (const endpoint of [
    'https://shop.example/trustpilot',
    'https://nottrustpilot.com',
    'https://trustpilot.com.evil.example',
  ]) {
    test(`${endpoint}: only the network error`, () =>
      online(true, async () => {
        failOn(endpoint)
        await assert.rejects(sendTo(endpoint), { message: 'network error: Failed to fetch' })
      }))
  }
  test('BLOCKED names a content blocker and the relay', () => {
    assert.match(BLOCKED, /content blocker/)
    assert.match(BLOCKED, /analytics-plugin-trustpilot\/relay/)
  })
})

describe('keepalive budget (64 KiB in flight per page)', () => {
  const bigInvitation = (id: string, kib: number) => {
    const invitation = seedInvitation()
    return { ...invitation, body: { ...invitation.body, referenceId: id, recipientName: 'x'.repeat(kib * 1024) } }
  }
  test('requests after one another each get keepalive: the budget comes back', async () => {
    fake.fallback = 201
    const transport = apiTransport(resolveSettings({ apiKey: API_KEY }))
    for (const id of ['k1', 'k2', 'k3']) await transport.send(bigInvitation(id, 40), 'invite', true)
    assert.deepEqual(
      fake.requests.map((r) => r.keepalive),
      [true, true, true],
    )
  })
  test('past the budget, a request at the same time goes without keepalive', async () => {
    fake.fallback = 201
    const transport = apiTransport(resolveSettings({ apiKey: API_KEY }))
    await Promise.all(['c1', 'c2'].map((id) => transport.send(bigInvitation(id, 40), 'invite', true)))
    assert.deepEqual(fake.requests.map((r) => r.keepalive).sort(), [false, true])
  })
  test('a body over the budget on its own goes without keepalive', async () => {
    fake.fallback = 201
    await apiTransport(resolveSettings({ apiKey: API_KEY })).send(bigInvitation('huge', 70), 'invite', true)
    assert.equal(fake.requests[0]?.keepalive, false)
  })
})

describe("a path endpoint is resolved against the page's origin when an invitation is sent", () => {
  const settings = { apiKey: 'key/1', endpoint: '/trustpilot' }
  test('on a page: its origin, the path, and the invitation path', () => {
    assert.equal(
      invitationUrl(settings, 'https://shop.example'),
      'https://shop.example/trustpilot/api/key%2F1/invitation',
    )
    // '/' is kept as '' (no trailing slash), and resolves to the origin itself.
    assert.equal(
      invitationUrl({ ...settings, endpoint: '' }, 'http://127.0.0.1:8080'),
      'http://127.0.0.1:8080/api/key%2F1/invitation',
    )
  })
  test('a full URL needs no page, http: on loopback too', () => {
    assert.equal(
      invitationUrl({ ...settings, endpoint: DEFAULT_ENDPOINT }),
      `${DEFAULT_ENDPOINT}/api/key%2F1/invitation`,
    )
    assert.equal(
      invitationUrl({ ...settings, endpoint: 'http://127.0.0.1:8080/tp' }),
      'http://127.0.0.1:8080/tp/api/key%2F1/invitation',
    )
  })
  test('a path that holds "https:" further on is still a path', () =>
    assert.equal(
      invitationUrl({ ...settings, endpoint: '/to/https:/trustpilot' }, 'https://shop.example'),
      'https://shop.example/to/https:/trustpilot/api/key%2F1/invitation',
    ))
  test('no page origin (a server render): a TypeError that says so, naming the path', () =>
    assert.throws(() => invitationUrl(settings, undefined), {
      name: 'TypeError',
      message: `Trustpilot: setting "endpoint" is a path, ${NO_PAGE_ORIGIN}`,
    }))
  test('an opaque origin (a sandboxed iframe): a TypeError that names it and Origin: null', () => {
    assert.throws(() => invitationUrl(settings, 'null'), {
      name: 'TypeError',
      message: `Trustpilot: setting "endpoint" is a path, ${OPAQUE_ORIGIN}`,
    })
    assert.match(OPAQUE_ORIGIN, /opaque/)
    assert.match(OPAQUE_ORIGIN, /sandboxed iframe \(such as a Shopify custom pixel\) sends Origin: null/)
  })
  test('the transport, off a page: rejects with that TypeError and sends nothing', async () => {
    assert.equal(globalThis.location, undefined)
    await assert.rejects(
      apiTransport(resolveSettings({ apiKey: API_KEY, endpoint: '/trustpilot' })).send(
        seedInvitation(),
        'invite',
        true,
      ),
      { name: 'TypeError', message: /no page origin/ },
    )
    assert.equal(fake.requests.length, 0)
  })
})

describe("the page's origin, as the transport reads it", () => {
  /** Runs `body` with these globals (location, origin, document) as a page of that kind has them. */
  function withGlobals(globals: Record<string, PropertyDescriptor>, body: () => void) {
    for (const [name, descriptor] of Object.entries(globals)) {
      Object.defineProperty(globalThis, name, { configurable: true, ...descriptor })
    }
    try {
      body()
    } finally {
      for (const name of Object.keys(globals)) delete (globalThis as Record<string, unknown>)[name]
    }
  }
  const shopPage = { location: { value: new URL('https://shop.example/thanks') } }
  test("a page: location's origin", () =>
    withGlobals({ ...shopPage, document: { value: { domain: 'shop.example' } } }, () =>
      assert.equal(pageOrigin(), 'https://shop.example'),
    ))
  test("a sandboxed frame with a URL (Shopify's shape, CSP sandbox): 'null', though location shows the URL", () =>
    withGlobals({ ...shopPage, document: { value: { domain: '' } } }, () => assert.equal(pageOrigin(), 'null')))
  test("a sandboxed frame whose window.origin says 'null'", () =>
    withGlobals({ ...shopPage, origin: { value: 'null' } }, () => assert.equal(pageOrigin(), 'null')))
  test('no page (Node, Bun): undefined', () => assert.equal(pageOrigin(), undefined))
  test('a location that throws when read (Deno 1 without --location): undefined', () =>
    withGlobals(
      {
        location: {
          get() {
            throw new ReferenceError('Access to "location", run again with --location <href>.')
          },
        },
      },
      () => assert.equal(pageOrigin(), undefined),
    ))
})
