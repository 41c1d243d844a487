// The relay as a Cloudflare Worker, routed on the shop's own zone at /trustpilot/* (wrangler.json).
import { type TrustpilotRelay, trustpilotRelay } from 'analytics-plugin-trustpilot/relay'

/** The Worker's variables (wrangler.json's `vars`, or the dashboard's). */
interface Env {
  TRUSTPILOT_API_KEY: string
  SHOP_ORIGIN: string
  /** Unset: Trustpilot's own API. The tests point it at a local stand-in. */
  TRUSTPILOT_UPSTREAM?: string
}

// A Worker is handed its variables with each request, not when it loads: the relay is made at the
// first request and kept for the next ones.
let relay: TrustpilotRelay | undefined

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    relay ??= trustpilotRelay({
      apiKeys: [env.TRUSTPILOT_API_KEY],
      origins: [env.SHOP_ORIGIN],
      upstream: env.TRUSTPILOT_UPSTREAM,
    })
    return relay(request)
  },
}
