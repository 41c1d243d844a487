/**
 * `npm start`: builds the example shop and serves it on 127.0.0.1 with a local Trustpilot stand-in,
 * so an order placed there shows the invitation requests Trustpilot would receive. The page can tell
 * the stand-in how to behave (POST /stand-in/mode: down, slow, a 5xx once, 251, 400), to show what the
 * plugin does then. With TRUSTPILOT_API_KEY set, the shop uses that key against the real Trustpilot.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { type StandIn, startStandIn } from './stand-in'
import { startStaticServer } from './static-server'

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

/** One line of "What Trustpilot receives": a request and its answer, or Trustpilot's side changing. */
type WireEvent =
  | { kind: 'request'; at: number; status: number | string; body: Record<string, unknown> }
  | { kind: 'mode'; at: number; mode: Mode }

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
  const config = JSON.stringify(
    realKey ? { apiKey: realKey } : { apiKey: 'example-integration-key', endpoint: standIn?.url },
  )
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
  const modeEvent = () => `event: mode\ndata: ${JSON.stringify({ mode })}\n\n`
  function setMode(next: Mode) {
    changing = changing.then(async () => {
      await applyMode(standIn as StandIn, next, mode === 'down')
      mode = next
      publish({ kind: 'mode', at: Date.now(), mode })
      broadcast(modeEvent())
    })
    return changing
  }
  standIn?.onRecord.add((record) => {
    publish({ kind: 'request', at: record.at, status: record.status, body: record.body })
    // "Once" is over when its 503 has been answered.
    if (mode === 'once' && record.status === 503) void setMode('normal')
  })
  const site = await startStaticServer('example', port, {
    handle(url, res, req) {
      if (url.pathname === '/config.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(config)
        return true
      }
      if (url.pathname === '/stand-in/events' && standIn) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' })
        res.write(modeEvent())
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
      return false
    },
  })
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
  console.log(`Example shop: ${example.url}`)
  console.log(
    example.standIn
      ? `Trustpilot stand-in: ${example.standIn.url} (set TRUSTPILOT_API_KEY to use the real Trustpilot)`
      : 'Using the real Trustpilot with TRUSTPILOT_API_KEY',
  )
}
