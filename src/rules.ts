/**
 * Rules the browser code (settings.ts) and the server code (server/relay.ts) share: where
 * Trustpilot is, what an endpoint may be, and the checks and error of a bad option. Pure, with no
 * DOM and no Node: both sides import it, and the entry bundles only what it uses.
 */

export const DEFAULT_ENDPOINT = 'https://invitejs.trustpilot.com'

/**
 * An endpoint as the URL parser writes it back (`href`: scheme and host lowercased, an IPv4 address
 * as four decimal numbers, a default port dropped) once its trailing slashes, and a bare "?" or "#"
 * (an empty query or hash, which adds nothing), are cut: https: on any host, or http: on a loopback
 * host (127.0.0.0/8, localhost, [::1]) with any port; then a path at most. One regex on the written
 * URL instead of a check per URL part, for the entry's size: an "@" before the path would be
 * credentials, a "?" or "#" left in it a query or hash.
 */
export const ENDPOINT_URL = /^(https:\/\/[^/@]+|http:\/\/(localhost|\[::1\]|127(\.\d+){3})(:\d+)?)(\/[^?#]*)?$/

export type Check = (value: unknown) => boolean
export const isText: Check = (v) => typeof v === 'string'
export const isTexts: Check = (v) => Array.isArray(v) && v.every((item) => typeof item === 'string' && item !== '')
export const isPositive: Check = (v) => typeof v === 'number' && v > 0 && v < Infinity

/**
 * Throws the TypeError of a bad option, naming it and the rule it broke; `whose` is whose option it
 * is (the plugin's settings, unless the relay says it is its own).
 */
export function fail(name: string, problem: string, whose = 'Trustpilot: setting'): never {
  throw new TypeError(`${whose} "${name}" ${problem}`)
}
