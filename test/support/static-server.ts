/**
 * A minimal static file server for the browser tests, the example and the benchmarks. It serves the
 * repository (the built dist/ files exactly as a CDN would) on 127.0.0.1, and lets a caller add
 * response headers per path, e.g. a Content-Security-Policy, answer some requests itself (the bench
 * mounts the relay so), and put a modelled network between it and the browser (test/support/link.ts).
 */
import { createReadStream, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve } from 'node:path'
import { type Arrival, type Link, modelLink } from './link'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

export interface StaticServer {
  url: string
  close(): Promise<void>
}

export interface Hooks {
  /**
   * Answers a request itself (returns true), e.g. a JSON config or an event stream. With a `link`, it
   * is called once the request has come across it, and told whether it came on a new connection.
   */
  handle?: (url: URL, res: ServerResponse, req: IncomingMessage, arrival?: Arrival) => boolean
  /** Extra headers for a file it serves, e.g. a Content-Security-Policy. */
  headers?: (url: URL) => Record<string, string> | undefined
  /** The network between the browser and this server, for every request and answer; none when unset. */
  link?: Link
}

/** Serves `root` on 127.0.0.1 (port 0: any free port). */
export async function startStaticServer(root: string, port = 0, hooks: Hooks = {}): Promise<StaticServer> {
  const base = resolve(root)
  const serve = (req: IncomingMessage, res: ServerResponse, arrival?: Arrival) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (hooks.handle?.(url, res, req, arrival)) return
    let path = normalize(join(base, decodeURIComponent(url.pathname)))
    if (!path.startsWith(base)) {
      res.writeHead(403).end()
      return
    }
    try {
      if (statSync(path).isDirectory()) path = join(path, 'index.html')
      statSync(path)
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream',
      'Cache-Control': 'no-store',
      ...hooks.headers?.(url),
    })
    createReadStream(path).pipe(res)
  }
  const { link } = hooks
  const server = createServer((req, res) => {
    if (!arrive) return serve(req, res)
    arrive(req).then((arrival) => serve(req, res, arrival))
  })
  const arrive = link?.oneWayMs ? modelLink(server, () => link) : undefined
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  const { port: actual } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
