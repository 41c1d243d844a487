/**
 * A shop's own origin with the relay on it, as a shop's server runs it: the repository served on
 * 127.0.0.1 (pages, dist/), and the built relay (dist/relay.js, the package's
 * `analytics-plugin-trustpilot/relay`) at /trustpilot, forwarding to `upstream`: the tests' stand-in
 * for Trustpilot. It records each request the relay is asked, so a test can see the browser sent
 * no preflight and what it sent.
 */
import type { IncomingMessage } from 'node:http'
import { type StaticServer, startStaticServer } from '../../test/support/static-server'

const BUILT_RELAY = new URL('../../dist/relay.js', import.meta.url).href

export interface RelayShop extends StaticServer {
  /** What reached /trustpilot on the shop's origin, in order. */
  asked: Array<{ method: string; path: string; origin?: string; secFetchSite?: string; cookie?: string }>
}

export async function startRelayShop(upstream: string, apiKeys: string[]): Promise<RelayShop> {
  // The built file, as a shop imports it: what `npm run build` put in dist/ (typed by its source,
  // since the type check runs before the build).
  const { toNodeHandler, trustpilotRelay }: typeof import('../../src/server/relay') = await import(BUILT_RELAY)
  let handler: ReturnType<typeof toNodeHandler> | undefined
  const asked: RelayShop['asked'] = []
  const server = await startStaticServer('.', 0, {
    handle: (url, res, req) => {
      if (!url.pathname.startsWith('/trustpilot/')) return false
      const header = (name: string) => req.headers[name] as string | undefined
      asked.push({
        method: req.method ?? '',
        path: url.pathname,
        origin: header('origin'),
        secFetchSite: header('sec-fetch-site'),
        cookie: header('cookie'),
      })
      void handler?.(req as IncomingMessage & AsyncIterable<Uint8Array>, res)
      return true
    },
    headers: (url) => {
      const csp = url.searchParams.get('csp')
      return csp ? { 'Content-Security-Policy': csp } : undefined
    },
  })
  handler = toNodeHandler(trustpilotRelay({ apiKeys, origins: [server.url], upstream }))
  return Object.assign(server, { asked })
}
