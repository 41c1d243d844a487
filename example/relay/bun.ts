// The relay on Bun: bun bun.ts
import { trustpilotRelay } from 'analytics-plugin-trustpilot/relay'

const relay = trustpilotRelay({
  apiKeys: [Bun.env.TRUSTPILOT_API_KEY ?? ''],
  origins: [Bun.env.SHOP_ORIGIN ?? ''],
  // Unset: Trustpilot's own API. The tests point it at a local stand-in.
  upstream: Bun.env.TRUSTPILOT_UPSTREAM,
})

Bun.serve({ port: Number(Bun.env.PORT) || 3000, hostname: Bun.env.HOST ?? '0.0.0.0', fetch: relay })
