// The relay on Deno: deno run --allow-net --allow-env=TRUSTPILOT_API_KEY,SHOP_ORIGIN,TRUSTPILOT_UPSTREAM,PORT,HOST deno.ts
import { trustpilotRelay } from 'analytics-plugin-trustpilot/relay'

const relay = trustpilotRelay({
  apiKeys: [Deno.env.get('TRUSTPILOT_API_KEY') ?? ''],
  origins: [Deno.env.get('SHOP_ORIGIN') ?? ''],
  // Unset: Trustpilot's own API. The tests point it at a local stand-in.
  upstream: Deno.env.get('TRUSTPILOT_UPSTREAM'),
})

// On Deno Deploy, which picks the port itself: Deno.serve(relay)
Deno.serve({ port: Number(Deno.env.get('PORT')) || 8000, hostname: Deno.env.get('HOST') ?? '0.0.0.0' }, relay)
