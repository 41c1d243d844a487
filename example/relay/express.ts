// The relay in an Express 5 app, beside the shop's own routes.
import { createServer } from 'node:http'
import { toNodeHandler, trustpilotRelay } from 'analytics-plugin-trustpilot/relay'
import express from 'express'

const relay = trustpilotRelay({
  apiKeys: [process.env.TRUSTPILOT_API_KEY ?? ''],
  origins: [process.env.SHOP_ORIGIN ?? ''],
  // Unset: Trustpilot's own API. The tests point it at a local stand-in.
  upstream: process.env.TRUSTPILOT_UPSTREAM,
})

const app = express()
// The shop's own body parser may run first: the relay then forwards the object it parsed.
app.use(express.json())
app.post('/trustpilot/*path', toNodeHandler(relay))
// ... the shop's own routes.

// Slow clients are dropped in seconds, on every route: express.json() reads the body before the
// relay does, so the server bounds it: the headers within 10 s, the whole request within 20 s (Node's
// defaults: 60 s and 300 s, looked at every 30 s). Raise requestTimeout if the shop takes uploads.
const bounds = { headersTimeout: 10_000, requestTimeout: 20_000, connectionsCheckingInterval: 1_000 }

createServer(bounds, app).listen(Number(process.env.PORT) || 3000, process.env.HOST ?? '0.0.0.0')
