/**
 * analytics-plugin-trustpilot/relay: a first-party relay for the shop's own server, for the buyers
 * whose content blocker stops requests to Trustpilot's host (EasyPrivacy has
 * `||invitejs.trustpilot.com^`; Disconnect's list, used by Firefox's strict and private modes, has
 * `trustpilot.com`). The plugin posts to a path on the shop's own origin (`endpoint: '/trustpilot'`);
 * this handler forwards each invitation to Trustpilot and passes the answer back.
 *
 * ```ts
 * import { trustpilotRelay } from 'analytics-plugin-trustpilot/relay'
 * const relay = trustpilotRelay({ apiKeys: ['<TRUSTPILOT_INTEGRATION_KEY>'], origins: ['https://shop.example'] })
 * // Next.js App Router, app/trustpilot/[...path]/route.ts:  export const POST = relay
 * // Cloudflare Worker:                                      export default { fetch: relay }
 * ```
 *
 * It is no open proxy: it forwards only `POST {path}/api/{key}/invitation` for the shop's own keys,
 * from the shop's own origins, with a body that is one JSON object of at most 32 KB, and only that
 * body and the `Origin` header: no cookie, no `Authorization`, no other header of the buyer's. What
 * it refuses, it forwards nothing of. It forwards only what the page's public integration key already
 * allows any browser to send Trustpilot directly.
 *
 * Server-side only: no browser bundle imports it.
 *
 * @packageDocumentation
 */
import { DEFAULT_ENDPOINT, ENDPOINT_URL, fail, isPositive, isTexts } from '../rules.js'

/** Options of {@link trustpilotRelay}. `apiKeys` and `origins` are required. */
export interface TrustpilotRelayOptions {
  /** The Trustpilot Integration Keys it forwards for (the `apiKey` of the shop's plugin). Required, non-empty. */
  apiKeys: string[]
  /**
   * The shop's own origins, as browsers send them in `Origin` (`'https://shop.example'`: scheme, host
   * and port, no path). A request from any other origin, or with none, is refused (403). Trustpilot
   * is sent the same `Origin`, so its allowed-domains check still sees the shop. Required, non-empty.
   */
  origins: string[]
  /** The path prefix it answers under: the plugin's `endpoint`. @defaultValue `'/trustpilot'` */
  path?: string
  /**
   * Where it forwards to: `https:`, or `http:` on a loopback host only (for tests).
   * @defaultValue `'https://invitejs.trustpilot.com'`
   */
  upstream?: string
  /**
   * How long Trustpilot may take to answer, its body included, before the relay drops the request
   * and answers 504. @defaultValue `10000`
   */
  timeoutMs?: number
  /**
   * How many invitations may wait on Trustpilot at once. Beyond it the relay answers 503 at once,
   * with `Retry-After`, forwarding nothing; the plugin keeps the invitation and tries again later.
   * Each waiting invitation holds two connections (the buyer's and Trustpilot's) and about 100 KB:
   * the cap bounds what a brownout at Trustpilot can take of the shop's server (docs/relay.md).
   * A positive integer. @defaultValue `64`
   */
  maxInFlight?: number
}

/** What {@link toNodeHandler} reads of Node's `IncomingMessage` (and Express's request). */
export interface NodeRequest extends AsyncIterable<Uint8Array> {
  method?: string
  url?: string
  /** Express: the URL before a router's mount path was cut off. */
  originalUrl?: string
  headers: Record<string, string | string[] | undefined>
  /** Set by a body parser such as `express.json()` that read the body first. */
  body?: unknown
  /** True once the body was read (by a body parser). */
  readableEnded?: boolean
  /** Node's socket: destroyed when the rest of a refused body does not arrive within `bodyTimeoutMs`. */
  socket?: { destroy(): unknown } | null
}

/** What {@link toNodeHandler} uses of Node's `ServerResponse`. */
export interface NodeResponse {
  headersSent: boolean
  writeHead(status: number, headers: Record<string, string>): unknown
  end(chunk?: Uint8Array | string): unknown
  /** Node's `'close'`: with `writableFinished` false, the buyer's connection closed before the answer. */
  on?(event: 'close', listener: () => void): unknown
  writableFinished?: boolean
}

/** Options of {@link toNodeHandler}. */
export interface NodeHandlerOptions {
  /**
   * How long the request's body may take to arrive, from when the handler is called. A body still
   * arriving then is answered 408 and its connection closed; the rest of a refused body (over 32 KB)
   * is read and dropped until then, and the connection closed if it is still coming. A positive number.
   * @defaultValue `10000`
   */
  bodyTimeoutMs?: number
}

/** A web-standard fetch handler: Next.js route handlers, Cloudflare Workers, Deno, Bun take it as is. */
export type TrustpilotRelay = (request: Request) => Promise<Response>

/** The largest body it forwards: an invitation with 100 products is about 20 KB. */
export const MAX_BODY_BYTES = 32 * 1024
/** The largest answer of Trustpilot's it passes back; its answers are a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024
/** The default of `maxInFlight`: see TrustpilotRelayOptions and docs/relay.md for why. */
export const DEFAULT_MAX_IN_FLIGHT = 64
/** The default of toNodeHandler's `bodyTimeoutMs`. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000
/** Answers a Response can't carry a body with. */
const NO_BODY = [101, 204, 205, 304]

/** The relay's options are its own: their errors say so. */
const failOption = (option: string, problem: string) => fail(option, problem, 'Trustpilot relay: option')

/** An origin as browsers send it: http(s), host and port, nothing after. */
function originOf(value: string): string | undefined {
  try {
    const url = new URL(value)
    if (/^https?:$/.test(url.protocol) && url.origin === value.replace(/\/$/, '')) return url.origin
  } catch {}
  return undefined
}

/** Checks the options, as `trustpilot()` checks its settings: a TypeError naming the first bad one. */
function resolveOptions(input: TrustpilotRelayOptions) {
  const options = (input ?? {}) as unknown as Record<string, unknown>
  const given = (name: string) => options[name] !== undefined
  const apiKeys = options.apiKeys as string[]
  if (!isTexts(apiKeys) || !apiKeys.length) {
    failOption(
      'apiKeys',
      'is required: the Trustpilot Integration Keys it forwards for, as a non-empty array of non-empty strings',
    )
  }
  const origins = options.origins as string[]
  const originRule =
    'is required: the shop\'s own origins, as a non-empty array of origins like "https://shop.example" (no path)'
  if (!isTexts(origins) || !origins.length) failOption('origins', originRule)
  const allowedOrigins = origins.map(
    (origin) =>
      originOf(origin) ??
      // Every sandboxed frame on every site sends `Origin: null`: the relay could not tell the shop's
      // own (a Shopify custom pixel) from anyone's, so it would forward for any page (docs/shopify.md).
      failOption(
        'origins',
        origin.trim() === 'null'
          ? "can't hold \"null\": every sandboxed frame on any site sends Origin: null, so the relay could not tell the shop's own pages from anyone's (docs/shopify.md)"
          : originRule,
      ),
  )
  const path = given('path') ? options.path : '/trustpilot'
  if (typeof path !== 'string' || !/^(\/[^/?#\\]+)*\/?$/.test(path)) {
    failOption(
      'path',
      'must be a path like "/trustpilot": starting with "/", no query, hash, backslash or empty segment',
    )
  }
  const upstream = given('upstream') ? options.upstream : DEFAULT_ENDPOINT
  let upstreamUrl: string | undefined
  try {
    // Written back as settings.ts writes an endpoint (inline there too: a helper would cost every page bytes).
    upstreamUrl = new URL((upstream as string).trim()).href.replace(/\/*\??#?$/, '')
  } catch {}
  if (!upstreamUrl || !ENDPOINT_URL.test(upstreamUrl)) {
    failOption(
      'upstream',
      'must be an https: URL (http: only for 127.0.0.0/8, localhost, [::1]) with no query, hash or credentials',
    )
  }
  const timeoutMs = given('timeoutMs') ? options.timeoutMs : 10_000
  if (!isPositive(timeoutMs)) {
    failOption('timeoutMs', 'must be a positive number')
  }
  const maxInFlight = given('maxInFlight') ? options.maxInFlight : DEFAULT_MAX_IN_FLIGHT
  if (!Number.isInteger(maxInFlight) || (maxInFlight as number) < 1) {
    failOption('maxInFlight', 'must be a positive integer: how many invitations may wait on Trustpilot at once')
  }
  return {
    apiKeys: new Set(apiKeys.map((key) => key.trim())),
    origins: new Set(allowedOrigins),
    prefix: (path as string).replace(/\/$/, ''),
    upstream: upstreamUrl as string,
    timeoutMs: timeoutMs as number,
    maxInFlight: maxInFlight as number,
  }
}

/** A refusal (or the relay's own failure): a short reason in words, never anything of the request's. */
const answer = (status: number, reason: string, headers: Record<string, string> = {}) =>
  new Response(`Trustpilot relay: ${reason}\n`, {
    status,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  })

/** The chunks as one array. */
function joined(chunks: Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return bytes
}

/**
 * Reads `chunks` up to `limit` bytes, one chunk past it at the most: 'over' when there are more, and
 * 'late' when `deadline` (a promise that settles to 'late') comes first. The rest is left unread.
 */
async function readUpTo(
  chunks: AsyncIterator<Uint8Array>,
  limit: number,
  deadline?: Promise<'late'>,
): Promise<Uint8Array<ArrayBuffer> | 'over' | 'late'> {
  const read: Uint8Array[] = []
  let size = 0
  for (;;) {
    const next = await (deadline ? Promise.race([chunks.next(), deadline]) : chunks.next())
    if (next === 'late') return 'late'
    if (next.done) return joined(read, size)
    size += next.value.byteLength
    if (size > limit) return 'over'
    read.push(next.value)
  }
}

/**
 * Reads at most `limit` bytes of a web stream (a request's or Trustpilot's body); undefined when
 * there are more, and then the stream is cancelled: the rest is never read.
 */
async function readCapped(
  body: AsyncIterable<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (!body) return new Uint8Array(0)
  const chunks = body[Symbol.asyncIterator]()
  const read = await readUpTo(chunks, limit)
  if (read !== 'over') return read as Uint8Array<ArrayBuffer>
  await chunks.return?.()
  return undefined
}

/** The one JSON object a body holds, re-serialized, or undefined when it holds anything else. */
function jsonObject(bytes: Uint8Array): string | undefined {
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
    if (value && typeof value === 'object' && !Array.isArray(value)) return JSON.stringify(value)
  } catch {}
  return undefined
}

/**
 * Creates the relay: a fetch handler that forwards the shop's invitations to Trustpilot.
 * Answers: Trustpilot's own status, body and `Retry-After`; 404 for another path or key, 405 for
 * another method, 403 for a foreign or missing `Origin`, 413 for a body over 32 KB, 400 for one that
 * is not a JSON object, 503 with `Retry-After` when `maxInFlight` invitations already wait on
 * Trustpilot, 502 when Trustpilot is out of reach, 504 when it has not answered whole within
 * `timeoutMs`, 499 when the buyer left first (`request.signal`), 500 for a fault of its own. It never
 * throws and never logs.
 * @throws TypeError naming the option, when an option is missing or invalid.
 */
export function trustpilotRelay(options: TrustpilotRelayOptions): TrustpilotRelay {
  const { apiKeys, origins, prefix, upstream, timeoutMs, maxInFlight } = resolveOptions(options)
  const route = /^\/api\/([^/]+)\/invitation\/?$/
  /** By then every invitation waiting now has had its answer or its 504, so a place is free. */
  const retryAfter = String(Math.ceil(timeoutMs / 1000))
  /** Invitations waiting on Trustpilot now: each holds a connection to it, and the buyer's. */
  let inFlight = 0

  /** Sends one invitation on and passes the answer back, within `timeoutMs` and while the buyer waits. */
  async function forward(key: string, origin: string, body: string, buyer: AbortSignal | undefined) {
    inFlight++
    const upstreamRequest = new AbortController()
    /** Why the request to Trustpilot was dropped, if it was. */
    let dropped: 'timeout' | 'left' | undefined
    const drop = (why: 'timeout' | 'left') => () => {
      dropped ??= why
      upstreamRequest.abort()
    }
    const timer = setTimeout(drop('timeout'), timeoutMs)
    const left = drop('left')
    buyer?.addEventListener('abort', left)
    let answered = false
    try {
      // Only what Trustpilot needs: the body, its type, and the shop's Origin. The buyer's
      // cookies, credentials and other headers stay here.
      const upstreamAnswer = await fetch(`${upstream}/api/${encodeURIComponent(key)}/invitation`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: origin },
        body,
        // Not followed: the relay's upstream is fixed. ('error' would do, but workerd refuses it.)
        redirect: 'manual',
        signal: upstreamRequest.signal,
      })
      answered = true
      const headers: Record<string, string> = { 'Cache-Control': 'no-store' }
      for (const name of ['Content-Type', 'Retry-After']) {
        const value = upstreamAnswer.headers.get(name)
        if (value) headers[name] = value
      }
      const { status } = upstreamAnswer
      // A redirect (or the opaque answer a browser-like fetch makes of one) is not Trustpilot's answer.
      if (status < 200 || (status >= 300 && status < 400)) return answer(502, 'Trustpilot answered with a redirect')
      // Read under the same timeout: an answer still arriving when it fires is a 504 as well.
      const passed = NO_BODY.includes(status) ? null : await readCapped(upstreamAnswer.body, MAX_ANSWER_BYTES)
      if (passed === undefined) return answer(502, "Trustpilot's answer did not arrive whole")
      return new Response(passed, { status, headers })
    } catch {
      if (dropped === 'timeout') return answer(504, `no answer from Trustpilot within ${timeoutMs} ms`)
      if (dropped === 'left')
        return answer(499, 'the buyer left before Trustpilot answered; the request to it was dropped')
      return answer(502, answered ? "Trustpilot's answer did not arrive whole" : 'Trustpilot is out of reach')
    } finally {
      inFlight--
      clearTimeout(timer)
      buyer?.removeEventListener('abort', left)
      // Whatever is left of the exchange (a redirect's body, an answer cut at 64 KB) is let go now.
      upstreamRequest.abort()
    }
  }

  return async (request) => {
    try {
      const { pathname } = new URL(request.url)
      const match = pathname.startsWith(`${prefix}/`) ? route.exec(pathname.slice(prefix.length)) : null
      let key: string | undefined
      try {
        key = match ? decodeURIComponent(match[1] as string) : undefined
      } catch {}
      if (!key || !apiKeys.has(key)) return answer(404, 'not found: no invitation route for this path and key')
      if (request.method !== 'POST') return answer(405, 'method not allowed: POST only', { Allow: 'POST' })
      const origin = request.headers.get('Origin')
      if (!origin || !origins.has(origin))
        return answer(403, "forbidden: the request is not from one of the shop's origins")
      // A Content-Length over the cap is refused unread; a body without one is read up to the cap.
      const tooLarge = Number(request.headers.get('Content-Length')) > MAX_BODY_BYTES
      const bytes = tooLarge ? undefined : await readCapped(request.body, MAX_BODY_BYTES)
      if (!bytes) return answer(413, `the body is larger than ${MAX_BODY_BYTES} bytes`)
      const body = jsonObject(bytes)
      if (!body) return answer(400, 'bad request: the body must be one JSON object')
      // A buyer who is gone is sent nothing on.
      const buyer = request.signal as AbortSignal | undefined
      if (buyer?.aborted) return answer(499, 'the buyer left before the invitation was sent on')
      if (inFlight >= maxInFlight) {
        return answer(
          503,
          `Trustpilot is busy or down: ${maxInFlight} invitations already wait on it (maxInFlight); try again later`,
          { 'Retry-After': retryAfter },
        )
      }
      return await forward(key, origin, body, buyer)
    } catch {
      return answer(500, 'internal error')
    }
  }
}

/**
 * The relay as a Node `http` (or Express) handler: `createServer(toNodeHandler(relay))`, or
 * `app.post('/trustpilot/*path', toNodeHandler(relay))`. Where a body parser such as `express.json()`
 * ran first and read the body, it forwards what the parser made of it (an object re-serialized,
 * bytes or text as they are), held to the same 32 KB.
 *
 * The body must arrive within `bodyTimeoutMs` (else 408, and the connection is closed); a
 * `Content-Length` over 32 KB is answered 413 before any of the body is read. The request it hands
 * the relay has a `signal` that fires when the buyer's connection closes, so a buyer who leaves frees
 * the request to Trustpilot at once.
 * @throws TypeError naming the option, when `bodyTimeoutMs` is invalid.
 */
export function toNodeHandler(
  relay: TrustpilotRelay,
  options: NodeHandlerOptions = {},
): (request: NodeRequest, response: NodeResponse) => Promise<void> {
  const given = (options ?? {}) as Record<string, unknown>
  const bodyTimeoutMs = given.bodyTimeoutMs !== undefined ? given.bodyTimeoutMs : DEFAULT_BODY_TIMEOUT_MS
  if (!isPositive(bodyTimeoutMs)) failOption('bodyTimeoutMs', 'must be a positive number')

  return async (req, res) => {
    const buyer = new AbortController()
    res.on?.('close', () => {
      if (res.writableFinished === false) buyer.abort()
    })
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), bodyTimeoutMs as number)
    })
    /** The rest of a body past the cap: read and dropped (so the 413 reaches the buyer), until the deadline. */
    let rest: AsyncIterator<Uint8Array> | undefined
    try {
      const headers = new Headers()
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers.set(name, value)
        else if (Array.isArray(value)) headers.set(name, value.join(', '))
      }
      let body: Uint8Array<ArrayBuffer> | string | null = null
      if (req.readableEnded) {
        // A body parser ran first (express.json(), express.raw(), express.text()) and read the
        // stream: forward what it made of it, as bytes, text or the object it parsed.
        headers.delete('Content-Length')
        const { body: read } = req
        if (read instanceof Uint8Array) body = new Uint8Array(read)
        else if (typeof read === 'string') body = read
        else if (read !== null && typeof read === 'object') body = JSON.stringify(read)
      } else if (req.method !== 'GET' && req.method !== 'HEAD') {
        // Unread (no parser, or one that left this type alone, whatever it set `body` to). A
        // Content-Length over the cap is refused before any of it is read; else at most one chunk past it.
        const chunks = req[Symbol.asyncIterator]()
        const declared = Number(req.headers['content-length']) > MAX_BODY_BYTES
        const read = declared ? 'over' : await readUpTo(chunks, MAX_BODY_BYTES, deadline)
        if (read === 'late') {
          // A slow sender: told so, and its connection closed, not held to Node's requestTimeout.
          const late = answer(408, `the body did not arrive within ${bodyTimeoutMs} ms`)
          res.writeHead(late.status, { ...Object.fromEntries(late.headers), Connection: 'close' })
          res.end(await late.text())
          return
        }
        if (read === 'over') rest = chunks
        // The relay answers 413 for it (after 404, 405 and 403, as for any request).
        body = read === 'over' ? new Uint8Array(MAX_BODY_BYTES + 1) : read
      }
      const request = new Request(new URL(req.originalUrl ?? req.url ?? '/', 'http://relay.invalid'), {
        method: req.method,
        headers,
        body,
        signal: buyer.signal,
      })
      const answered = await relay(request)
      // Nobody to answer: the buyer's connection is closed.
      if (buyer.signal.aborted) return
      res.writeHead(answered.status, Object.fromEntries(answered.headers))
      res.end(new Uint8Array(await answered.arrayBuffer()))
    } catch {
      if (buyer.signal.aborted) return
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('Trustpilot relay: internal error\n')
    } finally {
      if (rest) void drop(rest, deadline, req).then(() => clearTimeout(timer))
      else clearTimeout(timer)
    }
  }
}

/** Reads what is left of a refused body and drops it; at the deadline, closes a connection it still comes on. */
async function drop(rest: AsyncIterator<Uint8Array>, deadline: Promise<'late'>, req: NodeRequest): Promise<void> {
  try {
    for (;;) {
      const next = await Promise.race([rest.next(), deadline])
      if (next === 'late') return void req.socket?.destroy()
      if (next.done) return
    }
  } catch {}
}
