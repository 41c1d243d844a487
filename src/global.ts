/**
 * Entry of dist/trustpilot.global.js: a classic script for analytics-next's remote plugins, which
 * are loaded with a plain <script> and looked up as `window[libraryName]`.
 */
import { type TrustpilotSettings, trustpilot } from './index.js'
import { PLUGIN_NAME } from './plugin.js'

const trustpilotDestination = Object.assign((settings: TrustpilotSettings) => trustpilot(settings), {
  pluginName: PLUGIN_NAME,
})
;(globalThis as unknown as { trustpilotDestination: typeof trustpilotDestination }).trustpilotDestination =
  trustpilotDestination
