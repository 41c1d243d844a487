// The relay as a Next.js App Router route handler: every path under /trustpilot (the plugin's
// `endpoint`) comes here. Next itself answers a GET (the route exports POST only) with 405.
import { trustpilotRelay } from 'analytics-plugin-trustpilot/relay'

// Next loads this module at `next build` too, so the variables must be set there as well as at run time.
export const POST = trustpilotRelay({
  apiKeys: [process.env.TRUSTPILOT_API_KEY ?? ''],
  origins: [process.env.SHOP_ORIGIN ?? ''],
  // Unset: Trustpilot's own API. The tests point it at a local stand-in.
  upstream: process.env.TRUSTPILOT_UPSTREAM,
})
