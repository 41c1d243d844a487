/**
 * A local stand-in for Trustpilot's invitation endpoint: a real HTTP server on 127.0.0.1.
 *
 * Browser tests use it where Playwright routing and msw can't reach (requests sent during pagehide
 * with keepalive), the soak run uses it to inject faults, and `npm start` points the example shop at
 * it so a developer sees exactly what Trustpilot would receive.
 *
 * It plays the protocol (202 to a request without products, 201 to one with them), answers CORS with
 * credentials, and can be told to fail: a status for the next N requests, drop the connection, hang,
 * or be down (not listening at all). It also serves the tests' tp.min.js stand-in at /tp.min.js. For
 * the example shop it can play a buyer's content blocker: it resets what comes straight from a
 * browser, and answers what comes from a server (the shop's relay).
 */
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type Link, modelLink, NO_LINK } from './link'

const TP_STAND_IN = new URL('../../e2e/pages/tp-stand-in.js', import.meta.url)
const SIMPLICITY_EMBED = new URL('../../e2e/pages/simplicity-embed.html', import.meta.url)
/** Trustpilot's own hosts, as the tests' tp.min.js stand-in names them. */
export const TP_SCRIPT_URL = 'https://invitejs.trustpilot.com/tp.min.js'
export const SIMPLICITY_ORIGIN = 'https://simplicity.trustpilot.com'

/** The tests' tp.min.js stand-in, framing its simplicity page from `simplicityOrigin`. */
export const tpStandInScript = async (simplicityOrigin = SIMPLICITY_ORIGIN) =>
  (await readFile(TP_STAND_IN, 'utf8')).replace(`'${SIMPLICITY_ORIGIN}'`, JSON.stringify(simplicityOrigin))
/** The stand-in for Trustpilot's https://simplicity.trustpilot.com/embed page. */
export const simplicityEmbedPage = () => readFile(SIMPLICITY_EMBED, 'utf8')

/** What to do with one request: answer normally, with a status, reset the socket, or never answer. */
export type Fault = number | 'reset' | 'hang' | 'accept-then-reset'

export interface InvitationRecord {
  at: number
  apiKey: string
  body: Record<string, unknown>
  status: number | 'reset' | 'hang'
  origin: string | undefined
  cookie: string | undefined
  /** Sent by a browser (the page itself) rather than by a server (the shop's relay): see fromBrowser. */
  fromBrowser: boolean
  /** Every header of the request, as Node parsed them (the relay's recipes check none of the buyer's arrive). */
  headers: IncomingHttpHeaders
}

/** A request the blocker stopped: what the browser tried, never read further. */
export interface StoppedRequest {
  at: number
  method: string
  path: string
}

/**
 * Whether a request comes straight from a browser. Browsers send Fetch Metadata (`Sec-Fetch-Site`,
 * to a loopback host too: Chromium, Firefox and WebKitGTK all do) and a `Mozilla/5.0 …` User-Agent;
 * Node's fetch, which the shop's relay uses on the server, sends neither (`User-Agent: node`). It
 * does send `Sec-Fetch-Mode: cors`, so that header tells nothing.
 */
export const fromBrowser = (req: IncomingMessage) =>
  req.headers['sec-fetch-site'] !== undefined || /^Mozilla\//.test(req.headers['user-agent'] ?? '')

export interface StandIn {
  url: string
  port: number
  requests: InvitationRecord[]
  /** Invitations created (answered 201/200), by referenceId: more than one is a duplicate. */
  created: Map<string, number>
  /** Faults for the next requests, in order; consumed one per POST. */
  faults: Fault[]
  /** What to do with every request once `faults` is empty (the example's "251", "400"); normal when unset. */
  always?: Fault
  /** Milliseconds to wait before each answer to a POST. */
  latencyMs: number
  /**
   * The network between the browser and the stand-in (test/support/link.ts), for every request, the
   * preflight, tp.min.js and the simplicity page included: the bench's 50 ms each way. A request is
   * recorded once it has come this far; `latencyMs` comes on top, for POSTs only. None when unset.
   */
  link: Link
  /** Connections accepted so far (the simplicity page's not counted). */
  connections: number
  /** CORS preflights (OPTIONS requests) received so far. */
  preflights: number
  /** Closes the connections no request is on, as a server's keep-alive timeout does in time. */
  closeIdle(): void
  /** How long a 'hang' lasts before the connection is dropped, as a gateway timeout would. */
  hangMs: number
  /** Sent as Retry-After with 429 and 503 answers, when set. */
  retryAfter?: string
  /** Sent as the body of every answer to a POST (as `application/json`), when set; else the body is empty. */
  answerBody?: string
  /** Stops listening (connection refused), keeping the port for `up()`. */
  down(): Promise<void>
  up(): Promise<void>
  close(): Promise<void>
  /** Listeners told of each request as it is answered (the example page streams these). */
  onRecord: Set<(record: InvitationRecord) => void>
  /**
   * The buyer's content blocker (the example's control). A blocker lives in the buyer's browser and
   * stops requests to Trustpilot's host before they leave it; the stand-in, which can't sit there,
   * does what the page then sees: while this is set, every request straight from a browser (its CORS
   * preflight included) has its connection reset on arrival, unread and unrecorded, so the page's
   * fetch rejects with a network error. A server's request (the shop's relay) is answered as usual.
   * Setting it closes the idle connections browsers keep open, so each stopped request is one attempt.
   */
  blocker: boolean
  /** Listeners told of each request the blocker stopped (not in `requests`: Trustpilot never had it). */
  onStopped: Set<(stopped: StoppedRequest) => void>
  /** Where the tp.min.js stand-in frames its simplicity page: another origin, as Trustpilot's is. */
  simplicityUrl: string
}

const cors = (req: IncomingMessage): Record<string, string> => ({
  'Access-Control-Allow-Origin': req.headers.origin ?? '*',
  'Access-Control-Allow-Credentials': 'true',
  'Access-Control-Allow-Methods': 'POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type',
  'Access-Control-Expose-Headers': 'Retry-After',
  'Access-Control-Max-Age': '600',
  Vary: 'Origin',
})

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => {
      data += chunk
    })
    req.on('end', () => resolve(data))
    req.on('error', reject)
  })

export async function startStandIn(port = 0, host = '127.0.0.1'): Promise<StandIn> {
  const sockets = new Set<Socket>()
  const hanging = new Set<ServerResponse>()
  /** The buyer's content blocker: see StandIn.blocker. */
  let blocker = false

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (blocker && fromBrowser(req)) {
      const stopped = { at: Date.now(), method: req.method ?? '', path: req.url?.split('?')[0] ?? '' }
      for (const listener of standIn.onStopped) listener(stopped)
      req.socket.resetAndDestroy()
      return
    }
    await arrive(req)
    const match = /^\/api\/([^/]+)\/invitation$/.exec(req.url?.split('?')[0] ?? '')
    if (req.method === 'OPTIONS') {
      standIn.preflights++
      res.writeHead(204, cors(req)).end()
      return
    }
    if (req.method === 'GET' && req.url === '/tp.min.js') {
      // The tests' stand-in for Trustpilot's own script, served from the endpoint as the real one is,
      // with its simplicity page on a second loopback origin.
      const script = await tpStandInScript(simplicity.url)
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script)
      return
    }
    if (!match || req.method !== 'POST') {
      res.writeHead(404, cors(req)).end()
      return
    }
    let body: Record<string, unknown>
    try {
      body = JSON.parse(await readBody(req))
    } catch {
      res.writeHead(400, cors(req)).end()
      return
    }
    const fault = standIn.faults.shift() ?? standIn.always
    if (standIn.latencyMs) await new Promise((r) => setTimeout(r, standIn.latencyMs))
    const normal = 'products' in body ? 201 : 202
    const status = typeof fault === 'number' ? fault : fault === 'reset' || fault === 'hang' ? fault : normal
    const record: InvitationRecord = {
      at: Date.now(),
      apiKey: decodeURIComponent(match[1] as string),
      body,
      status: fault === 'accept-then-reset' ? normal : status,
      origin: req.headers.origin,
      cookie: req.headers.cookie,
      fromBrowser: fromBrowser(req),
      headers: req.headers,
    }
    standIn.requests.push(record)
    if (record.status === 201 || record.status === 200) {
      const ref = String(body.referenceId)
      standIn.created.set(ref, (standIn.created.get(ref) ?? 0) + 1)
    }
    for (const listener of standIn.onRecord) listener(record)
    if (status === 'reset' || fault === 'accept-then-reset') {
      req.socket.destroy()
      return
    }
    if (status === 'hang') {
      hanging.add(res)
      setTimeout(() => {
        hanging.delete(res)
        res.destroy()
      }, standIn.hangMs).unref()
      return
    }
    const retryAfter = (status === 429 || status === 503) && standIn.retryAfter
    const answerBody = standIn.answerBody
    res
      .writeHead(status, {
        ...cors(req),
        ...(retryAfter ? { 'Retry-After': retryAfter } : {}),
        ...(answerBody === undefined ? {} : { 'Content-Type': 'application/json' }),
      })
      .end(answerBody)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  const arrive = modelLink(server, () => standIn.link)
  server.on('connection', (socket) => {
    standIn.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(p, host, () => resolve((server.address() as AddressInfo).port))
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy()
      hanging.clear()
      for (const socket of sockets) socket.destroy()
      if (!server.listening) return resolve()
      server.close(() => resolve())
    })

  // Trustpilot's simplicity host: another origin serving the embed page the script frames.
  const simplicity = await new Promise<{ url: string; server: ReturnType<typeof createServer> }>((resolve) => {
    const server = createServer(async (req, res) => {
      await arriveAtSimplicity(req)
      if (req.url?.split('?')[0] !== '/embed') return void res.writeHead(404).end()
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(await simplicityEmbedPage())
    })
    const arriveAtSimplicity = modelLink(server, () => standIn.link)
    server.listen(0, host, () => resolve({ url: `http://${host}:${(server.address() as AddressInfo).port}`, server }))
  })
  const actualPort = await listen(port)
  const standIn: StandIn = {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    requests: [],
    created: new Map(),
    faults: [],
    latencyMs: 0,
    link: NO_LINK,
    connections: 0,
    preflights: 0,
    closeIdle: () => server.closeIdleConnections(),
    hangMs: 15_000,
    onRecord: new Set(),
    get blocker() {
      return blocker
    },
    set blocker(on) {
      // A browser resends, once, a request whose kept-alive connection failed under it; on a fresh
      // connection it doesn't. Closing the idle ones leaves it none to reuse (nothing in flight is cut).
      if (on && !blocker) server.closeIdleConnections()
      blocker = on
    },
    onStopped: new Set(),
    simplicityUrl: simplicity.url,
    down: stop,
    up: async () => {
      await listen(actualPort)
    },
    close: async () => {
      await stop()
      simplicity.server.closeAllConnections()
      await new Promise((resolve) => simplicity.server.close(resolve))
    },
  }
  return standIn
}
