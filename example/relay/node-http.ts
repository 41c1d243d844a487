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

createServer((req, res) => {
  if (req.url?.startsWith('/trustpilot/')) return void relay(req, res)
  // ... the shop's own routes.
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found\n')
}).listen(Number(process.env.PORT) || 3000, process.env.HOST ?? '0.0.0.0')
