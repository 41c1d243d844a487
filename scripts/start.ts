/**
 * `npm start`: builds the example shop and serves it on 127.0.0.1 with a local Trustpilot stand-in,
 * so an order placed there shows the invitation requests Trustpilot would receive. The page can tell
 * the stand-in how to behave (POST /stand-in/mode: down, slow, a 5xx once, 251, 400), to show what the
 * plugin does then, and play the buyer's content blocker (POST /stand-in/blocker). The shop's own
 * origin serves the first-party relay at /trustpilot, in front of the stand-in, as a shop's server
 * would (`analytics-plugin-trustpilot/relay`); the page sends either there or straight to the stand-in.
 * With TRUSTPILOT_API_KEY set, the shop uses that key against the real Trustpilot, by either route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { type NodeResponse, toNodeHandler, trustpilotRelay } from 'analytics-plugin-trustpilot/relay'
import * as esbuild from 'esbuild'
import { type StandIn, startStandIn } from '../test/support/stand-in'
import { startStaticServer } from '../test/support/static-server'

export async function buildExample() {
  await esbuild.build({
    entryPoints: ['example/shop.ts'],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: 'example/build/shop.js',
    logLevel: 'warning',
  })
}

/**
 * What Trustpilot's side does, as the example page's controls set it. Each is one of the stand-in's
 * own knobs, so the plugin meets a real server that answers (or doesn't) that way.
 */
export const MODES = {
  normal: 'answering normally',
  down: 'down: connection refused',
  slow: 'slow: answers after 3 s',
  once: 'a 503 to the next request, then normal',
  blocked: '251: this domain is blocked',
  rejected: '400: bad request',
} as const
export type Mode = keyof typeof MODES

/** Where the shop's own origin serves the relay: the plugin's `endpoint` when the page sends through it. */
export const RELAY_PATH = '/trustpilot'

/**
 * One line of "What Trustpilot receives": a request and its answer (and whether it came straight from
 * the browser or through the relay, with the Origin Trustpilot saw), a request the buyer's blocker
 * stopped, an answer the relay gave itself (Trustpilot out of reach), or a control changing.
 */
type WireEvent =
  | {
      kind: 'request'
      at: number
      status: number | string
      body: Record<string, unknown>
      route: 'direct' | 'relay'
      origin: string | undefined
    }
  | { kind: 'stopped'; at: number; method: string; path: string }
  | { kind: 'relay'; at: number; status: number; reason: string }
  | { kind: 'mode'; at: number; mode: Mode }
  | { kind: 'blocker'; at: number; on: boolean }

/** The relay's own answers (refusals, Trustpilot out of reach) are text that starts so; Trustpilot's pass as they came. */
const RELAY_OWN = 'Trustpilot relay:'

/** `res` as the relay's Node handler writes it, telling `own` of each answer the relay gave itself. */
function watchRelay(res: ServerResponse, own: (status: number, reason: string) => void): NodeResponse {
  return {
    get headersSent() {
      return res.headersSent
    },
    writeHead: (status, headers) => res.writeHead(status, headers),
    end(chunk) {
      const text = chunk === undefined ? '' : Buffer.from(chunk).toString('utf8')
      if (text.startsWith(RELAY_OWN)) own(res.statusCode, text.slice(RELAY_OWN.length).trim())
      return res.end(chunk)
    },
  }
}

async function applyMode(standIn: StandIn, mode: Mode, isDown: boolean) {
  standIn.faults = mode === 'once' ? [503] : []
  standIn.always = mode === 'blocked' ? 251 : mode === 'rejected' ? 400 : undefined
  standIn.latencyMs = mode === 'slow' ? 3_000 : 0
  if (mode === 'down' && !isDown) await standIn.down()
  if (mode !== 'down' && isDown) await standIn.up()
}

const readJson = (req: IncomingMessage) =>
  new Promise<unknown>((resolve) => {
    let data = ''
    req.on('data', (chunk) => {
      data += chunk
    })
    req.on('end', () => {
      try {
        resolve(JSON.parse(data))
      } catch {
        resolve(undefined)
      }
    })
  })

export async function startExample(port = Number(process.env.PORT ?? 5173)) {
  const realKey = process.env.TRUSTPILOT_API_KEY
  const standIn: StandIn | undefined = realKey ? undefined : await startStandIn(Number(process.env.STAND_IN_PORT ?? 0))
  const apiKey = realKey ?? 'example-integration-key'
  // The page picks the route: straight to the stand-in (or, unset, Trustpilot's own endpoint), or
  // the relay on its own origin.
  const config = JSON.stringify({ apiKey, standIn: standIn?.url, relay: RELAY_PATH })
  let mode: Mode = 'normal'
  /** Changes one at a time: taking the stand-in down and up again is asynchronous. */
  let changing = Promise.resolve()
  // Everything so far is replayed to a page that connects, so the page after a reload (the buyer
  // left) or a second tab shows the whole story, not only what happened since it loaded.
  const timeline: WireEvent[] = []
  // Server-sent events of what the stand-in received, for the page's "What Trustpilot receives".
  const streams = new Set<ServerResponse>()
  const broadcast = (data: string) => {
    for (const res of streams) res.write(data)
  }
  const publish = (event: WireEvent) => {
    timeline.push(event)
    broadcast(`data: ${JSON.stringify(event)}\n\n`)
  }
  /** The stand-in's controls as they stand, for the page's radio buttons and checkbox. */
  const controlsEvent = () => `event: mode\ndata: ${JSON.stringify({ mode, blocker: standIn?.blocker ?? false })}\n\n`
  function setMode(next: Mode) {
    changing = changing.then(async () => {
      await applyMode(standIn as StandIn, next, mode === 'down')
      mode = next
      publish({ kind: 'mode', at: Date.now(), mode })
      broadcast(controlsEvent())
    })
    return changing
  }
  function setBlocker(on: boolean) {
    const blocking = standIn as StandIn
    if (blocking.blocker === on) return
    blocking.blocker = on
    publish({ kind: 'blocker', at: Date.now(), on })
    broadcast(controlsEvent())
  }
  standIn?.onStopped.add(({ at, method, path }) => publish({ kind: 'stopped', at, method, path }))
  standIn?.onRecord.add((record) => {
    // What reaches the stand-in from no browser is the relay's, on this server: the only other caller.
    const route = record.fromBrowser ? 'direct' : 'relay'
    publish({ kind: 'request', at: record.at, status: record.status, body: record.body, route, origin: record.origin })
    // "Once" is over when its 503 has been answered.
    if (mode === 'once' && record.status === 503) void setMode('normal')
  })
  // The shop's relay, made once the site listens: it forwards only for the shop's own origins, the
  // port included (with PORT=0, the one the system gave).
  let relay: ReturnType<typeof toNodeHandler> | undefined
  const site = await startStaticServer('example', port, {
    handle(url, res, req) {
      if (url.pathname === RELAY_PATH || url.pathname.startsWith(`${RELAY_PATH}/`)) {
        const own = (status: number, reason: string) => publish({ kind: 'relay', at: Date.now(), status, reason })
        // Made a moment after the site listens: a request before that is told to come back.
        if (relay) void relay(req, watchRelay(res, own))
        else res.writeHead(503, { 'Retry-After': '1' }).end()
        return true
      }
      if (url.pathname === '/config.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(config)
        return true
      }
      if (url.pathname === '/stand-in/events' && standIn) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' })
        res.write(controlsEvent())
        for (const event of timeline) res.write(`data: ${JSON.stringify(event)}\n\n`)
        streams.add(res)
        res.on('close', () => streams.delete(res))
        return true
      }
      if (url.pathname === '/stand-in/mode' && req.method === 'POST' && standIn) {
        void readJson(req).then(async (body) => {
          const next = (body as { mode?: unknown } | undefined)?.mode
          if (typeof next !== 'string' || !Object.hasOwn(MODES, next)) return void res.writeHead(400).end()
          await setMode(next as Mode)
          res.writeHead(204).end()
        })
        return true
      }
      if (url.pathname === '/stand-in/blocker' && req.method === 'POST' && standIn) {
        void readJson(req).then((body) => {
          const on = (body as { on?: unknown } | undefined)?.on
          if (typeof on !== 'boolean') return void res.writeHead(400).end()
          setBlocker(on)
          res.writeHead(204).end()
        })
        return true
      }
      return false
    },
  })
  const { port: sitePort } = new URL(site.url)
  relay = toNodeHandler(
    trustpilotRelay({
      apiKeys: [apiKey],
      // The page as `npm start` names it, and as a developer may type it.
      origins: [site.url, `http://localhost:${sitePort}`],
      path: RELAY_PATH,
      // The stand-in over http: on loopback; unset, Trustpilot's own endpoint.
      ...(standIn ? { upstream: standIn.url } : {}),
    }),
  )
  return {
    url: site.url,
    standIn,
    async close() {
      for (const res of streams) res.end()
      await site.close()
      await standIn?.close()
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildExample()
  const example = await startExample()
  console.log(`Example shop: ${example.url} (the relay: ${example.url}${RELAY_PATH})`)
  console.log(
    example.standIn
      ? `Trustpilot stand-in: ${example.standIn.url} (set TRUSTPILOT_API_KEY to use the real Trustpilot)`
      : 'Using the real Trustpilot with TRUSTPILOT_API_KEY',
  )
}
