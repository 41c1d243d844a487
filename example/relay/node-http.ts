// The relay in a plain node:http server. A server that is only the relay is `createServer(relay)`;
// here it is mounted in the shop's own handler.
import { createServer } from 'node:http'
import { toNodeHandler, trustpilotRelay } from 'analytics-plugin-trustpilot/relay'

const relay = toNodeHandler(
  trustpilotRelay({
    apiKeys: [process.env.TRUSTPILOT_API_KEY ?? ''],
    origins: [process.env.SHOP_ORIGIN ?? ''],
    // Unset: Trustpilot's own API. The tests point it at a local stand-in.
    upstream: process.env.TRUSTPILOT_UPSTREAM,
  }),
)

// Slow clients are dropped in seconds, on every route: the relay bounds its body (bodyTimeoutMs,
// 10 s), the server the headers and the whole request (Node's defaults: 60 s and 300 s, looked at
// every 30 s). Raise requestTimeout if the shop takes uploads.
const bounds = { headersTimeout: 10_000, requestTimeout: 20_000, connectionsCheckingInterval: 1_000 }

createServer(bounds, (req, res) => {
  if (req.url?.startsWith('/trustpilot/')) return void relay(req, res)
  // ... the shop's own routes.
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n')
}).listen(Number(process.env.PORT) || 3000, process.env.HOST ?? '0.0.0.0')
