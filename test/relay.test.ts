/**
 * The relay (src/server/relay.ts) against a real upstream on 127.0.0.1: what it forwards, exactly; what it
 * refuses, with nothing forwarded; what it passes back; and that it never throws or logs.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, afterEach, before, beforeEach, describe, test } from 'node:test'
import express from 'express'
import { DEFAULT_MAX_IN_FLIGHT, MAX_BODY_BYTES, toNodeHandler, trustpilotRelay } from '../src/server/relay'
import { rawBuyer, until } from './recipes/connections'
import { API_KEY } from './support/fixtures'

const SHOP = 'https://shop.example'
const INVITATION = { recipientEmail: 'buyer@example.com', referenceId: 'order-1', source: 'InvitationScript' }

interface Received {
  method: string
  url: string
  headers: IncomingHttpHeaders
  body: string
}

/** Trustpilot's side: records every request whole; answers as `answer` says (the protocol by default). */
const upstream = {
  received: [] as Received[],
  answer: undefined as
    | ((
        received: Received,
      ) =>
        | { status: number; headers?: Record<string, string>; body?: string }
        | 'hang'
        | 'partial'
        | 'reset'
        | undefined)
    | undefined,
  server: undefined as Server | undefined,
  url: '',
  /** What it holds unanswered ('hang'), or half answered ('partial': the head and part of the body). */
  held: [] as ServerResponse[],
  /** Held requests whose connection closed before their answer was whole: dropped by the relay. */
  dropped: 0,
  /** Which test it is in: a request held in an earlier one is not counted in this one's `dropped`. */
  test: 0,
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

before(async () => {
  upstream.server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => {
      body += chunk
    })
    req.on('end', () => {
      const received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      upstream.received.push(received)
      const answer = upstream.answer?.(received) ?? {
        status: JSON.parse(body).products ? 201 : 202,
        headers: { 'Content-Type': 'application/json', 'Set-Cookie': 'tp=1', 'X-Trustpilot': 'internal' },
        body: '{"ok":true}',
      }
      if (answer === 'reset') return void req.socket.destroy()
      if (answer === 'hang' || answer === 'partial') {
        upstream.held.push(res)
        const { test } = upstream
        res.on('close', () => {
          if (!res.writableFinished && test === upstream.test) upstream.dropped++
        })
        if (answer === 'partial') {
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' })
          res.write('{"partial":')
        }
        return
      }
      res.writeHead(answer.status, answer.headers).end(answer.body)
    })
  })
  upstream.url = await listen(upstream.server)
})
after(() => {
  upstream.server?.closeAllConnections()
  upstream.server?.close()
})

/** Console calls while a test runs: the relay never logs (an email address could be in what it sees). */
const logged: unknown[][] = []
const originals = { ...console }
beforeEach(() => {
  upstream.received.length = 0
  upstream.answer = undefined
  upstream.test++
  for (const res of upstream.held.splice(0)) res.destroy()
  upstream.dropped = 0
  logged.length = 0
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    console[method] = (...args: unknown[]) => void logged.push(args)
  }
})
afterEach(() => {
  Object.assign(console, originals)
  assert.deepEqual(logged, [], 'the relay wrote to the console')
})

/**
 * Trustpilot is back: answers every request the upstream holds 202 (a half-sent answer is cut), and
 * the ones still to come as usual. Each test checks what it counted once every answer is in.
 */
function releaseHeld() {
  upstream.answer = undefined
  for (const res of upstream.held.splice(0)) {
    if (res.headersSent) res.destroy()
    else res.writeHead(202, { 'Content-Type': 'application/json' }).end('{"ok":true}')
  }
}

const relayOf = (options: Partial<Parameters<typeof trustpilotRelay>[0]> = {}) =>
  trustpilotRelay({ apiKeys: [API_KEY], origins: [SHOP], upstream: upstream.url, ...options })

const invitationRequest = (
  init: { path?: string; method?: string; headers?: Record<string, string>; body?: BodyInit | null } = {},
) =>
  new Request(`${SHOP}${init.path ?? `/trustpilot/api/${API_KEY}/invitation`}`, {
    method: init.method ?? 'POST',
    headers: { 'Content-Type': 'application/json', Origin: SHOP, ...init.headers },
    body: init.body === undefined ? JSON.stringify(INVITATION) : init.body,
  })

describe("the relay forwards the shop's invitations", () => {
  test("202 then 201 through the relay: the same body, the shop's Origin, nothing of the buyer's", async () => {
    const relay = relayOf()
    const headers = {
      Cookie: 'session=secret',
      Authorization: 'Bearer buyer',
      'X-Forwarded-For': '203.0.113.9',
      Referer: `${SHOP}/thanks`,
    }
    const first = await relay(invitationRequest({ headers }))
    assert.equal(first.status, 202)
    assert.equal(await first.text(), '{"ok":true}')
    const withProducts = { ...INVITATION, products: [{ sku: 'a' }], productSkus: ['a'] }
    const second = await relay(invitationRequest({ headers, body: JSON.stringify(withProducts) }))
    assert.equal(second.status, 201)

    assert.equal(upstream.received.length, 2)
    const [a, b] = upstream.received as [Received, Received]
    assert.equal(a.method, 'POST')
    assert.equal(a.url, `/api/${API_KEY}/invitation`)
    assert.deepEqual(JSON.parse(a.body), INVITATION)
    assert.deepEqual(JSON.parse(b.body), withProducts)
    assert.equal(a.headers.origin, SHOP)
    assert.equal(a.headers['content-type'], 'application/json')
    for (const name of ['cookie', 'authorization', 'x-forwarded-for', 'referer']) {
      assert.equal(a.headers[name], undefined, `forwarded the buyer's ${name}`)
    }
    // What fetch itself adds, and nothing else of the request's.
    const forwarded = Object.keys(a.headers).sort()
    assert.deepEqual(
      forwarded.filter(
        (name) =>
          ![
            'accept',
            'accept-encoding',
            'accept-language',
            'connection',
            'content-length',
            'host',
            'sec-fetch-mode',
            'user-agent',
          ].includes(name),
      ),
      ['content-type', 'origin'],
    )
  })

  test("the answer goes back: status, body, Content-Type and Retry-After; no other header of Trustpilot's", async () => {
    upstream.answer = () => ({
      status: 503,
      headers: { 'Retry-After': '7', 'Content-Type': 'text/plain', 'Set-Cookie': 'x=1' },
      body: 'busy',
    })
    const busy = await relayOf()(invitationRequest())
    assert.equal(busy.status, 503)
    assert.equal(busy.headers.get('Retry-After'), '7')
    assert.equal(busy.headers.get('Content-Type'), 'text/plain')
    assert.equal(busy.headers.get('Set-Cookie'), null)
    assert.equal(await busy.text(), 'busy')
    const passed = await relayOf()(invitationRequest())
    assert.equal(passed.headers.get('X-Trustpilot'), null)
  })

  for (const status of [200, 201, 204, 251, 252, 253, 400, 401, 404, 429, 500, 502]) {
    test(`Trustpilot's ${status} is passed back as ${status}`, async () => {
      upstream.answer = () => ({ status, body: status === 204 ? undefined : `answer ${status}` })
      const answer = await relayOf()(invitationRequest())
      assert.equal(answer.status, status)
      assert.equal(await answer.text(), status === 204 ? '' : `answer ${status}`)
    })
  }

  test('under another path, and with more than one key and origin', async () => {
    const relay = relayOf({
      path: '/api/relay/trustpilot/',
      apiKeys: ['other', API_KEY],
      origins: ['https://www.shop.example', `${SHOP}/`],
    })
    const answer = await relay(invitationRequest({ path: `/api/relay/trustpilot/api/${API_KEY}/invitation` }))
    assert.equal(answer.status, 202)
    assert.equal(upstream.received.length, 1)
    const root = relayOf({ path: '/' })
    assert.equal((await root(invitationRequest({ path: `/api/${API_KEY}/invitation` }))).status, 202)
  })

  test('a key with characters URLs escape is matched decoded and forwarded encoded', async () => {
    const key = 'key/with spaces+and?'
    const answer = await relayOf({ apiKeys: [key] })(
      invitationRequest({ path: `/trustpilot/api/${encodeURIComponent(key)}/invitation` }),
    )
    assert.equal(answer.status, 202)
    assert.equal(upstream.received[0]?.url, `/api/${encodeURIComponent(key)}/invitation`)
  })

  test('a query is not forwarded', async () => {
    await relayOf()(invitationRequest({ path: `/trustpilot/api/${API_KEY}/invitation?to=https://evil.example` }))
    assert.equal(upstream.received[0]?.url, `/api/${API_KEY}/invitation`)
  })

  test('the body is forwarded as the JSON object it holds (whitespace aside)', async () => {
    await relayOf()(invitationRequest({ body: ' {\n "referenceId": "é-1" }\n' }))
    assert.deepEqual(JSON.parse(upstream.received[0]?.body ?? ''), { referenceId: 'é-1' })
  })
})

describe('the relay refuses everything else, and forwards none of it', () => {
  const refusals: Array<[string, number, Parameters<typeof invitationRequest>[0]]> = [
    ['GET', 405, { method: 'GET', body: null }],
    ['PUT', 405, { method: 'PUT' }],
    ['DELETE', 405, { method: 'DELETE', body: null }],
    ['OPTIONS', 405, { method: 'OPTIONS', body: null }],
    ['another path', 404, { path: `/trustpilot/api/${API_KEY}/invitations` }],
    ['a path outside the prefix', 404, { path: `/api/${API_KEY}/invitation` }],
    ['a prefix that only starts alike', 404, { path: `/trustpilotx/api/${API_KEY}/invitation` }],
    ['a path that climbs out', 404, { path: `/trustpilot/api/${API_KEY}/invitation/../../x` }],
    ['another key', 404, { path: '/trustpilot/api/someone-elses-key/invitation' }],
    ['a malformed key', 404, { path: '/trustpilot/api/%E0%A4%A/invitation' }],
    ['a foreign Origin', 403, { headers: { Origin: 'https://evil.example' } }],
    ['an Origin that only starts alike', 403, { headers: { Origin: `${SHOP}.evil.example` } }],
    ['the Origin "null"', 403, { headers: { Origin: 'null' } }],
    ['a body of JSON null', 400, { body: 'null' }],
    ['a JSON array', 400, { body: '[{"referenceId":"1"}]' }],
    ['a JSON string', 400, { body: '"x"' }],
    ['not JSON', 400, { body: 'recipientEmail=a@b.c' }],
    ['no body', 400, { body: null }],
    ['bytes that are not UTF-8', 400, { body: new Uint8Array([0x7b, 0xff, 0x7d]) }],
    ['a body over 32 KB', 413, { body: JSON.stringify({ padding: 'x'.repeat(MAX_BODY_BYTES) }) }],
  ]
  for (const [what, status, init] of refusals) {
    test(`${what}: ${status}`, async () => {
      const answer = await relayOf()(invitationRequest(init))
      assert.equal(answer.status, status)
      assert.match(await answer.text(), /^Trustpilot relay: /)
      assert.equal(upstream.received.length, 0, 'forwarded what it refused')
    })
  }

  test('no Origin: 403', async () => {
    const request = new Request(`${SHOP}/trustpilot/api/${API_KEY}/invitation`, { method: 'POST', body: '{}' })
    assert.equal((await relayOf()(request)).status, 403)
    assert.equal(upstream.received.length, 0)
  })

  test('a body of exactly 32 KB is forwarded; one byte more is not', async () => {
    const exact = JSON.stringify({ p: 'x'.repeat(MAX_BODY_BYTES - 8) })
    assert.equal(new TextEncoder().encode(exact).length, MAX_BODY_BYTES)
    assert.equal((await relayOf()(invitationRequest({ body: exact }))).status, 202)
    const over = JSON.stringify({ p: 'x'.repeat(MAX_BODY_BYTES - 7) })
    assert.equal((await relayOf()(invitationRequest({ body: over }))).status, 413)
    assert.equal(upstream.received.length, 1)
  })

  test('a streamed body over 32 KB with no Content-Length: 413, and the rest is not read', async () => {
    let pulled = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++
        controller.enqueue(new Uint8Array(16 * 1024).fill(0x20))
        if (pulled > 100) controller.close()
      },
    })
    const request = new Request(`${SHOP}/trustpilot/api/${API_KEY}/invitation`, {
      method: 'POST',
      headers: { Origin: SHOP },
      body: stream,
      duplex: 'half',
    } as RequestInit)
    assert.equal((await relayOf()(request)).status, 413)
    assert.ok(pulled < 10, `read ${pulled} chunks of 16 KB`)
    assert.equal(upstream.received.length, 0)
  })
})

describe('when Trustpilot fails, the relay answers for it', () => {
  test('out of reach: 502', async () => {
    const closed = createServer()
    const url = await listen(closed)
    await new Promise((resolve) => closed.close(resolve))
    const answer = await relayOf({ upstream: url })(invitationRequest())
    assert.equal(answer.status, 502)
    assert.equal(await answer.text(), 'Trustpilot relay: Trustpilot is out of reach\n')
  })

  test('the connection dropped: 502', async () => {
    upstream.answer = () => 'reset'
    assert.equal((await relayOf()(invitationRequest())).status, 502)
  })

  test('a redirect is not followed: 502', async () => {
    // Followed, it would land (the upstream answers the protocol there too): a relay's upstream is fixed.
    upstream.answer = (received) =>
      received.url === '/moved' ? undefined : { status: 307, headers: { Location: `${upstream.url}/moved` } }
    assert.equal((await relayOf()(invitationRequest())).status, 502)
    assert.equal(upstream.received.length, 1)
  })

  test('no answer within timeoutMs: 504, in about timeoutMs', async () => {
    upstream.answer = () => 'hang'
    const started = performance.now()
    const answer = await relayOf({ timeoutMs: 300 })(invitationRequest())
    const took = performance.now() - started
    assert.equal(answer.status, 504)
    assert.equal(await answer.text(), 'Trustpilot relay: no answer from Trustpilot within 300 ms\n')
    assert.ok(took >= 290 && took < 3000, `answered after ${took} ms`)
  })

  test("the timeout fires while Trustpilot's answer is still arriving: 504, not 502", async () => {
    upstream.answer = () => 'partial'
    const answer = await relayOf({ timeoutMs: 300 })(invitationRequest())
    assert.equal(answer.status, 504)
    assert.equal(await answer.text(), 'Trustpilot relay: no answer from Trustpilot within 300 ms\n')
    await until(() => upstream.dropped === 1, 'the half-sent answer is let go')
  })

  test('its own fault is a 500, never a throw', async () => {
    const broken = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error('the buyer went away'))
      },
    })
    const request = new Request(`${SHOP}/trustpilot/api/${API_KEY}/invitation`, {
      method: 'POST',
      headers: { Origin: SHOP },
      body: broken,
      duplex: 'half',
    } as RequestInit)
    const answer = await relayOf()(request)
    assert.equal(answer.status, 500)
    // Not even a Request: still an answer.
    assert.equal((await relayOf()(undefined as unknown as Request)).status, 500)
    assert.equal(upstream.received.length, 0)
  })
})

describe('a brownout at Trustpilot takes no more of the server than maxInFlight', () => {
  /** Starts `count` invitations through `relay` and waits until the upstream holds them all. */
  async function fill(relay: ReturnType<typeof relayOf>, count: number) {
    const waiting = Array.from({ length: count }, () => relay(invitationRequest()))
    await until(() => upstream.received.length >= count, `the upstream holds ${count}`)
    return waiting
  }

  test('past the cap: 503 at once, with Retry-After and why, forwarding nothing; refusals as before', async () => {
    upstream.answer = () => 'hang'
    const relay = relayOf({ maxInFlight: 3, timeoutMs: 60_000 })
    const waiting = await fill(relay, 3)
    const over = Array.from({ length: 5 }, () => relay(invitationRequest()))
    // Before the cap, these were forwarded too, and held: stop waiting as soon as one arrives.
    let answered = 0
    for (const answer of over) void answer.then(() => answered++)
    await until(() => answered === over.length || upstream.received.length > 3, 'the 5 past the cap are answered')
    const foreign = await relay(invitationRequest({ headers: { Origin: 'https://evil.example' } }))
    const forwarded = upstream.received.length
    releaseHeld()
    const answers = await Promise.all(over)
    assert.equal(forwarded, 3, 'forwarded past the cap')
    for (const answer of answers) {
      assert.equal(answer.status, 503)
      assert.equal(answer.headers.get('Retry-After'), '60', 'timeoutMs in seconds: a place is free by then')
      assert.equal(answer.headers.get('Cache-Control'), 'no-store')
      assert.match(await answer.text(), /^Trustpilot relay: Trustpilot is busy or down: 3 invitations already wait/)
    }
    assert.equal(foreign.status, 403)
    assert.deepEqual(
      (await Promise.all(waiting)).map((answer) => answer.status),
      [202, 202, 202],
    )
    // Answered, they free their places: the next invitation is forwarded.
    assert.equal((await relay(invitationRequest())).status, 202)
    assert.equal(upstream.received.length, 4)
  })

  test('a place is freed by every end: an answer, a 502, a 504, a refused redirect, an answer over 64 KB', async () => {
    const relay = relayOf({ maxInFlight: 1, timeoutMs: 300 })
    const ends: Array<[number, ReturnType<NonNullable<typeof upstream.answer>>]> = [
      [202, undefined],
      [502, 'reset'],
      [504, 'hang'],
      [504, 'partial'],
      [502, { status: 307, headers: { Location: '/elsewhere' } }],
      [502, { status: 200, body: 'x'.repeat(70_000) }],
      [429, { status: 429, headers: { 'Retry-After': '5' } }],
    ]
    for (const [status, end] of ends) {
      upstream.answer = () => end
      assert.equal((await relay(invitationRequest())).status, status, JSON.stringify(end))
    }
    upstream.answer = undefined
    assert.equal((await relay(invitationRequest())).status, 202, 'the one place is free')
    assert.equal(upstream.received.length, ends.length + 1)
  })

  test(`the default cap is ${DEFAULT_MAX_IN_FLIGHT}`, async () => {
    upstream.answer = () => 'hang'
    const relay = relayOf({ timeoutMs: 60_000 })
    const waiting = await fill(relay, DEFAULT_MAX_IN_FLIGHT)
    const over = relay(invitationRequest())
    let answered = false
    void over.then(() => {
      answered = true
    })
    await until(() => answered || upstream.received.length > DEFAULT_MAX_IN_FLIGHT, 'the one past the cap is answered')
    const forwarded = upstream.received.length
    releaseHeld()
    await Promise.all(waiting)
    assert.equal((await over).status, 503)
    assert.equal(forwarded, DEFAULT_MAX_IN_FLIGHT)
  })
})

describe('a buyer who leaves frees the request to Trustpilot at once (request.signal)', () => {
  test('the buyer leaves while Trustpilot is silent: the request to it is dropped, its place freed', async () => {
    upstream.answer = () => 'hang'
    const relay = relayOf({ maxInFlight: 1, timeoutMs: 60_000 })
    const buyer = new AbortController()
    const leaving = relay(new Request(invitationRequest(), { signal: buyer.signal }))
    await until(() => upstream.received.length === 1, 'forwarded')
    buyer.abort()
    // Held to the 60 s timeout before: this waits 20 s at the most.
    await until(() => upstream.dropped === 1, 'the request to Trustpilot is dropped')
    assert.equal((await leaving).status, 499)
    upstream.answer = undefined
    assert.equal((await relay(invitationRequest())).status, 202, 'its place is free')
  })

  test('the buyer leaves while the answer is arriving: dropped too', async () => {
    upstream.answer = () => 'partial'
    const buyer = new AbortController()
    const leaving = relayOf({ timeoutMs: 60_000 })(new Request(invitationRequest(), { signal: buyer.signal }))
    await until(() => upstream.received.length === 1, 'forwarded')
    buyer.abort()
    await until(() => upstream.dropped === 1, 'the request to Trustpilot is dropped')
    assert.equal((await leaving).status, 499)
  })

  test('a buyer already gone is sent nothing on', async () => {
    const request = new Request(invitationRequest(), { signal: AbortSignal.abort() })
    assert.equal((await relayOf()(request)).status, 499)
    assert.equal(upstream.received.length, 0)
  })
})

describe('options are checked as trustpilot() checks its settings', () => {
  const bad: Array<[string, Record<string, unknown>]> = [
    ['apiKeys', { apiKeys: undefined }],
    ['apiKeys', { apiKeys: [] }],
    ['apiKeys', { apiKeys: [''] }],
    ['apiKeys', { apiKeys: 'key' }],
    ['origins', { origins: undefined }],
    ['origins', { origins: [] }],
    ['origins', { origins: ['shop.example'] }],
    ['origins', { origins: ['https://shop.example/checkout'] }],
    ['origins', { origins: ['ftp://shop.example'] }],
    ['origins', { origins: ['*'] }],
    ['path', { path: 'trustpilot' }],
    ['path', { path: '/trustpilot?x' }],
    ['path', { path: '//trustpilot' }],
    ['path', { path: '/a\\b' }],
    ['path', { path: 42 }],
    ['upstream', { upstream: 'http://invitejs.trustpilot.com' }],
    ['upstream', { upstream: 'https://user@invitejs.trustpilot.com' }],
    ['upstream', { upstream: 'https://invitejs.trustpilot.com/?x=1' }],
    ['upstream', { upstream: 'not a url' }],
    ['upstream', { upstream: null }],
    ['timeoutMs', { timeoutMs: 0 }],
    ['timeoutMs', { timeoutMs: '1000' }],
    ['timeoutMs', { timeoutMs: Number.POSITIVE_INFINITY }],
    ['maxInFlight', { maxInFlight: 0 }],
    ['maxInFlight', { maxInFlight: -1 }],
    ['maxInFlight', { maxInFlight: 1.5 }],
    ['maxInFlight', { maxInFlight: '64' }],
    ['maxInFlight', { maxInFlight: Number.POSITIVE_INFINITY }],
  ]
  for (const [option, override] of bad) {
    test(`${JSON.stringify(override)} throws naming "${option}"`, () => {
      assert.throws(() => trustpilotRelay({ apiKeys: [API_KEY], origins: [SHOP], ...override } as never), {
        name: 'TypeError',
        message: new RegExp(`^Trustpilot relay: option "${option}" `),
      })
    })
  }
  test('origins ["null"] throws saying why: any sandboxed frame, on any site, sends Origin: null', () => {
    for (const origins of [['null'], [SHOP, ' null ']]) {
      assert.throws(() => trustpilotRelay({ apiKeys: [API_KEY], origins }), {
        name: 'TypeError',
        message:
          'Trustpilot relay: option "origins" can\'t hold "null": every sandboxed frame on any site sends Origin: null, so the relay could not tell the shop\'s own pages from anyone\'s (docs/shopify.md)',
      })
    }
  })
  for (const bodyTimeoutMs of [0, -1, '1000', Number.NaN, Number.POSITIVE_INFINITY, null]) {
    test(`toNodeHandler({ bodyTimeoutMs: ${String(bodyTimeoutMs)} }) throws naming "bodyTimeoutMs"`, () => {
      assert.throws(() => toNodeHandler(relayOf(), { bodyTimeoutMs } as never), {
        name: 'TypeError',
        message: 'Trustpilot relay: option "bodyTimeoutMs" must be a positive number',
      })
    })
  }
  test('no options at all names apiKeys', () => {
    assert.throws(() => trustpilotRelay(undefined as never), { name: 'TypeError', message: /option "apiKeys"/ })
  })
  test("the defaults: /trustpilot, Trustpilot's own host", () => {
    // Only the path is seen from here: the upstream default is Trustpilot's, never reached in a test.
    const relay = trustpilotRelay({ apiKeys: [API_KEY], origins: [SHOP] })
    return relay(invitationRequest({ path: '/elsewhere/api/k/invitation' })).then((answer) =>
      assert.equal(answer.status, 404),
    )
  })
})

describe('toNodeHandler: the relay on node:http and Express', () => {
  let servers: Server[] = []
  afterEach(() => {
    for (const server of servers) {
      server.closeAllConnections()
      server.close()
    }
    servers = []
  })
  const serve = async (server: Server) => {
    servers.push(server)
    return listen(server)
  }
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: SHOP, Cookie: 'session=secret', ...headers },
      body,
    })

  /**
   * A buyer posts an invitation to the server at `url` while Trustpilot is silent, and leaves once it
   * was forwarded: the request to Trustpilot is dropped then (it was held to the relay's timeoutMs).
   */
  async function buyerLeaves(url: string) {
    const buyer = new AbortController()
    const leaving = fetch(`${url}/trustpilot/api/${API_KEY}/invitation`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: SHOP },
      body: JSON.stringify(INVITATION),
      signal: buyer.signal,
    }).catch(() => 'left')
    await until(() => upstream.received.length === 1, 'forwarded')
    buyer.abort()
    assert.equal(await leaving, 'left')
    // Held to timeoutMs (60 s here) before: this waits 20 s at the most.
    await until(() => upstream.dropped === 1, 'the request to Trustpilot is dropped')
  }

  /** The head of a raw request, after its request line: what every raw buyer here sends. */
  const HEAD = `Host: shop.example\r\nOrigin: ${SHOP}\r\nContent-Type: application/json\r\n`

  test('node:http: forwards, passes the answer back, refuses a foreign origin', async () => {
    const url = await serve(createServer(toNodeHandler(relayOf())))
    const answer = await post(`${url}/trustpilot/api/${API_KEY}/invitation`, JSON.stringify(INVITATION))
    assert.equal(answer.status, 202)
    assert.equal(await answer.text(), '{"ok":true}')
    assert.equal(upstream.received[0]?.headers.cookie, undefined)
    assert.equal(upstream.received[0]?.headers.origin, SHOP)
    const foreign = await post(`${url}/trustpilot/api/${API_KEY}/invitation`, '{}', { Origin: 'https://evil.example' })
    assert.equal(foreign.status, 403)
    assert.equal(upstream.received.length, 1)
  })

  test('node:http: a body over 32 KB is 413 and not forwarded; the connection goes on', async () => {
    const url = await serve(createServer(toNodeHandler(relayOf())))
    const answer = await post(
      `${url}/trustpilot/api/${API_KEY}/invitation`,
      JSON.stringify({ p: 'x'.repeat(10 * MAX_BODY_BYTES) }),
    )
    assert.equal(answer.status, 413)
    assert.equal(upstream.received.length, 0)
    assert.equal((await post(`${url}/trustpilot/api/${API_KEY}/invitation`, JSON.stringify(INVITATION))).status, 202)
  })

  test('node:http: a Content-Length over 32 KB gets 413 before any of the body is sent; the 5 MB then go, unread', async () => {
    const url = await serve(createServer(toNodeHandler(relayOf())))
    const buyer = await rawBuyer(url)
    const size = 5 * 1024 * 1024
    buyer.send(`POST /trustpilot/api/${API_KEY}/invitation HTTP/1.1\r\n${HEAD}Content-Length: ${size}\r\n\r\n`)
    // Before, the relay waited for the body: nothing came back to the head alone.
    await buyer.answered(1)
    assert.match(
      buyer.answers[0] ?? '',
      /^HTTP\/1\.1 413 [\s\S]*Trustpilot relay: the body is larger than 32768 bytes\n/,
    )
    // The body the buyer sends all the same goes through, not met by a reset, and the connection
    // carries its next request.
    await buyer.send(Buffer.alloc(size, 0x20))
    const next = JSON.stringify(INVITATION)
    await buyer.send(
      `POST /trustpilot/api/${API_KEY}/invitation HTTP/1.1\r\n${HEAD}Content-Length: ${next.length}\r\n\r\n${next}`,
    )
    await buyer.answered(2)
    assert.match(buyer.answers[1] ?? '', /^HTTP\/1\.1 202 /)
    assert.deepEqual(buyer.errors, [])
    assert.equal(upstream.received.length, 1)
    buyer.close()
  })

  test('node:http: a 5 MB body with no Content-Length, sent whole, gets its 413, not a reset', async () => {
    const url = await serve(createServer(toNodeHandler(relayOf())))
    const buyer = await rawBuyer(url)
    const size = 5 * 1024 * 1024
    await buyer.send(
      `POST /trustpilot/api/${API_KEY}/invitation HTTP/1.1\r\n${HEAD}Transfer-Encoding: chunked\r\n\r\n${size.toString(16)}\r\n`,
    )
    await buyer.send(Buffer.alloc(size, 0x20))
    await buyer.send('\r\n0\r\n\r\n')
    await buyer.answered(1)
    assert.deepEqual(buyer.errors, [], 'the buyer met an error sending its body')
    assert.match(buyer.answers[0] ?? '', /^HTTP\/1\.1 413 /)
    assert.equal(upstream.received.length, 0)
    buyer.close()
  })

  test('node:http: a body slower than bodyTimeoutMs gets 408 and its connection closed, silent or trickling', async () => {
    const url = await serve(createServer(toNodeHandler(relayOf(), { bodyTimeoutMs: 300 })))
    const head = `POST /trustpilot/api/${API_KEY}/invitation HTTP/1.1\r\n${HEAD}Content-Length: 200\r\n\r\n{`
    const silent = await rawBuyer(url)
    silent.send(head)
    const trickling = await rawBuyer(url)
    trickling.send(head)
    // One byte every 50 ms, 150 at the most: Node alone holds such a request for 300 s (its requestTimeout).
    let sent = 0
    while (!trickling.closed && sent < 150) {
      trickling.send(' ')
      sent++
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await until(() => silent.closed && trickling.closed, 'both connections closed')
    for (const buyer of [silent, trickling]) {
      assert.match(
        buyer.answers[0] ?? '',
        /^HTTP\/1\.1 408 [\s\S]*Trustpilot relay: the body did not arrive within 300 ms\n/,
      )
      assert.match(buyer.answers[0] ?? '', /\r\nconnection: close\r\n/i)
    }
    assert.ok(sent < 150, `the trickling buyer was held for all ${sent} bytes`)
    assert.equal(upstream.received.length, 0)
  })

  test('node:http: the buyer leaving drops the request to Trustpilot and frees its place', async () => {
    upstream.answer = () => 'hang'
    const url = await serve(createServer(toNodeHandler(relayOf({ maxInFlight: 1, timeoutMs: 60_000 }))))
    await buyerLeaves(url)
    // Its place is free.
    upstream.answer = undefined
    assert.equal((await post(`${url}/trustpilot/api/${API_KEY}/invitation`, JSON.stringify(INVITATION))).status, 202)
  })

  test('node:http: 10 times maxInFlight buyers at once in a brownout: the cap waits, the rest get 503 at once', async () => {
    upstream.answer = () => 'hang'
    const url = await serve(createServer(toNodeHandler(relayOf({ maxInFlight: 10, timeoutMs: 60_000 }))))
    const answers = Array.from({ length: 100 }, () =>
      post(`${url}/trustpilot/api/${API_KEY}/invitation`, JSON.stringify(INVITATION)),
    )
    let answered = 0
    for (const answer of answers) void answer.then(() => answered++)
    // Before the cap, all 100 were forwarded and held: stop waiting once more than 10 arrive.
    await until(() => answered === 90 || upstream.received.length > 10, '90 answered')
    const forwarded = upstream.received.length
    releaseHeld()
    const statuses = (await Promise.all(answers)).map((answer) => answer.status)
    assert.equal(statuses.filter((status) => status === 503).length, 90)
    assert.equal(statuses.filter((status) => status === 202).length, 10)
    assert.equal(forwarded, 10, 'forwarded past the cap')
  })

  test('Express, mounted under a router and behind express.json(): the parsed body is forwarded', async () => {
    const app = express()
    app.use(express.json())
    const router = express.Router()
    router.post('/*path', toNodeHandler(relayOf()))
    app.use('/trustpilot', router)
    const url = await serve(createServer(app))
    const answer = await post(`${url}/trustpilot/api/${API_KEY}/invitation`, JSON.stringify(INVITATION))
    assert.equal(answer.status, 202)
    assert.deepEqual(JSON.parse(upstream.received[0]?.body ?? ''), INVITATION)
    const array = await post(`${url}/trustpilot/api/${API_KEY}/invitation`, '[1]')
    assert.equal(array.status, 400)
    assert.equal(upstream.received.length, 1)
  })

  test('Express behind express.json(): the buyer leaving drops the request to Trustpilot', async () => {
    upstream.answer = () => 'hang'
    const app = express()
    app.use(express.json())
    app.post('/trustpilot/*path', toNodeHandler(relayOf({ timeoutMs: 60_000 })))
    await buyerLeaves(await serve(createServer(app)))
  })

  for (const [parser, use] of [
    ['express.raw()', express.raw({ type: 'application/json' })],
    ['express.text()', express.text({ type: '*/*' })],
    // Parsers that leave a JSON body unread (and may set req.body = {} all the same, as Express 4's do).
    ['express.urlencoded()', express.urlencoded({ extended: false })],
  ] as const) {
    test(`Express behind ${parser}: the invitation as the buyer's browser sent it`, async () => {
      const app = express()
      app.use(use)
      app.use((req, _res, next) => {
        req.body ??= {}
        next()
      })
      app.post('/trustpilot/*path', toNodeHandler(relayOf()))
      const url = await serve(createServer(app))
      const answer = await post(`${url}/trustpilot/api/${API_KEY}/invitation`, JSON.stringify(INVITATION))
      assert.equal(answer.status, 202)
      assert.deepEqual(JSON.parse(upstream.received[0]?.body ?? ''), INVITATION)
    })
  }
})
