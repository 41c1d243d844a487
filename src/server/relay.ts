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
  /** How long Trustpilot may take to answer before the relay answers 504. @defaultValue `10000` */
  timeoutMs?: number
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
}

/** What {@link toNodeHandler} uses of Node's `ServerResponse`. */
export interface NodeResponse {
  headersSent: boolean
  writeHead(status: number, headers: Record<string, string>): unknown
  end(chunk?: Uint8Array | string): unknown
}

/** A web-standard fetch handler: Next.js route handlers, Cloudflare Workers, Deno, Bun take it as is. */
export type TrustpilotRelay = (request: Request) => Promise<Response>

/** The largest body it forwards: an invitation with 100 products is about 20 KB. */
export const MAX_BODY_BYTES = 32 * 1024
/** The largest answer of Trustpilot's it passes back; its answers are a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024
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
  return {
    apiKeys: new Set(apiKeys.map((key) => key.trim())),
    origins: new Set(allowedOrigins),
    prefix: (path as string).replace(/\/$/, ''),
    upstream: upstreamUrl as string,
    timeoutMs: timeoutMs as number,
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
 * Reads at most `limit` bytes of a stream, one chunk past it at the most; undefined when there are
 * more than `limit`. Works on a web ReadableStream and on Node's request alike (both iterate).
 */
async function readCapped(
  body: AsyncIterable<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of body ?? []) {
    size += chunk.byteLength
    // Leaving the loop cancels the stream: the rest is never read.
    if (size > limit) return undefined
    chunks.push(chunk)
  }
  return joined(chunks, size)
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
 * is not a JSON object, 502 when Trustpilot is out of reach, 504 when it does not answer within
 * `timeoutMs`, 500 for a fault of its own. It never throws and never logs.
 * @throws TypeError naming the option, when an option is missing or invalid.
 */
export function trustpilotRelay(options: TrustpilotRelayOptions): TrustpilotRelay {
  const { apiKeys, origins, prefix, upstream, timeoutMs } = resolveOptions(options)
  const route = /^\/api\/([^/]+)\/invitation\/?$/

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

      let upstreamAnswer: Response
      try {
        // Only what Trustpilot needs: the body, its type, and the shop's Origin. The buyer's
        // cookies, credentials and other headers stay here.
        upstreamAnswer = await fetch(`${upstream}/api/${encodeURIComponent(key)}/invitation`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Origin: origin },
          body,
          // Not followed: the relay's upstream is fixed. ('error' would do, but workerd refuses it.)
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        })
      } catch (error) {
        return (error as Error)?.name === 'TimeoutError'
          ? answer(504, `no answer from Trustpilot within ${timeoutMs} ms`)
          : answer(502, 'Trustpilot is out of reach')
      }
      const headers: Record<string, string> = { 'Cache-Control': 'no-store' }
      for (const name of ['Content-Type', 'Retry-After']) {
        const value = upstreamAnswer.headers.get(name)
        if (value) headers[name] = value
      }
      const { status } = upstreamAnswer
      // A redirect (or the opaque answer a browser-like fetch makes of one) is not Trustpilot's answer.
      if (status < 200 || (status >= 300 && status < 400)) return answer(502, 'Trustpilot answered with a redirect')
      const passed = NO_BODY.includes(status)
        ? null
        : await readCapped(upstreamAnswer.body, MAX_ANSWER_BYTES).catch(() => undefined)
      if (passed === undefined) return answer(502, "Trustpilot's answer did not arrive whole")
      return new Response(passed, { status, headers })
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
 */
export function toNodeHandler(relay: TrustpilotRelay): (request: NodeRequest, response: NodeResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const headers = new Headers()
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers.set(name, value)
        else if (Array.isArray(value)) headers.set(name, value.join(', '))
      }
      let body: Uint8Array<ArrayBuffer> | string | null = null
      let unread = false
      if (req.readableEnded) {
        // A body parser ran first (express.json(), express.raw(), express.text()) and read the
        // stream: forward what it made of it, as bytes, text or the object it parsed.
        headers.delete('Content-Length')
        const { body: read } = req
        if (read instanceof Uint8Array) body = new Uint8Array(read)
        else if (typeof read === 'string') body = read
        else if (read !== null && typeof read === 'object') body = JSON.stringify(read)
      } else if (req.method !== 'GET' && req.method !== 'HEAD') {
        // Unread (no parser, or one that left this type alone, whatever it set `body` to). At most
        // one chunk past the cap; the relay then answers 413 without reading the rest.
        const read = await readCapped(req, MAX_BODY_BYTES)
        // The rest is never read: the connection can't carry another request, so it closes.
        unread = !read
        body = read ?? new Uint8Array(MAX_BODY_BYTES + 1)
      }
      const request = new Request(new URL(req.originalUrl ?? req.url ?? '/', 'http://relay.invalid'), {
        method: req.method,
        headers,
        body,
      })
      const answered = await relay(request)
      res.writeHead(answered.status, {
        ...Object.fromEntries(answered.headers),
        ...(unread ? { Connection: 'close' } : {}),
      })
      res.end(new Uint8Array(await answered.arrayBuffer()))
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
      res.end('Trustpilot relay: internal error\n')
    }
  }
}
