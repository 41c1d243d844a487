/**
 * Entry of dist/trustpilot.global.js: a classic script for analytics-next's remote plugins, which
 * are loaded with a plain <script> and looked up as `window[libraryName]`. It loads the same delivery
 * module as the ES build, dist/delivery.js (and dist/index.js, whose error classes it imports), from
 * beside itself: wherever the script came from, the modules come from too, so a page's CSP needs no
 * new source.
 */
import { PLUGIN_NAME } from './keys.js'
import { createPlugin, type LoadDelivery } from './plugin.js'
import { resolveSettings } from './settings.js'
import type { TrustpilotSettings } from './types.js'

// Read while this script runs: document.currentScript is null once it has returned.
const scriptUrl = (document.currentScript as HTMLScriptElement | null)?.src

// async: a missing script URL becomes a rejected load (the order is kept), never a throw.
const loadDelivery: LoadDelivery = async () => {
  const beside = (file: string) => new URL(file, scriptUrl).href
  // Asked for beside delivery.js, which imports the error classes from it: otherwise the browser
  // would ask only once delivery.js had arrived, a round trip more before the first invitation.
  import(beside('index.js')).catch(() => {})
  return import(beside('delivery.js'))
}

const trustpilotDestination = Object.assign(
  (settings: TrustpilotSettings) => createPlugin(resolveSettings(settings), loadDelivery),
  { pluginName: PLUGIN_NAME },
)
;(globalThis as unknown as { trustpilotDestination: typeof trustpilotDestination }).trustpilotDestination =
  trustpilotDestination
