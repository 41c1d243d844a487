// The relay in an Express 5 app, beside the shop's own routes.
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

app.listen(Number(process.env.PORT) || 3000, process.env.HOST ?? '0.0.0.0')
