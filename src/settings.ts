/**
 * Settings: the only place user-supplied configuration is checked. Everything after this file can
 * trust a ResolvedSettings. Errors name the setting and what was wrong: settings often come from
 * JSON a shop writes by hand (a remote plugin's entry in its CDN settings: docs/segment.md), where a
 * typo is otherwise invisible.
 */
import { type Check, DEFAULT_ENDPOINT, ENDPOINT_URL, fail, isPositive, isText, isTexts } from './rules.js'
import type { TrustpilotSettings } from './types.js'

export const DEFAULT_SOURCE = 'InvitationScript'

export interface ResolvedSettings {
  apiKey: string
  /**
   * Origin and path, or a path alone (resolved against the page's origin when sent: transport.ts);
   * no trailing slash, so '/' is ''.
   */
  endpoint: string
  source: string
  debug: boolean
  timeoutMs: number
  /** A fraction is one more attempt: the outbox compares a whole count against it. */
  maxAttempts: number
  maxAgeHours: number
  consentCategories: string[] | undefined
  excludeAudiences: string[]
  templateId: string | undefined
  locale: string | undefined
  tags: string[] | undefined
  transport: 'api' | 'script'
  trackOutcomes: boolean
  dryRun: boolean
}

const ENDPOINT_RULE =
  'must be an https: URL (http: only for 127.0.0.0/8, localhost, [::1]) or a path on this origin ("/trustpilot"), with no query, hash or credentials'

/**
 * A path on the page's own origin ('/trustpilot', where the shop serves the relay). Kept as a path:
 * a server render or a worker has no page to resolve it against, so transport.ts resolves it when an
 * invitation is sent. What this admits stays on the page's origin: "//" or "/\\" at the start would
 * name another host (the URL parser reads a backslash as a slash, and drops tabs and line breaks,
 * which resolveEndpoint drops first for that reason).
 */
export const ENDPOINT_PATH = /^\/(?![/\\])[^?#]*$/

/** Only `undefined` takes the default (which passes the same checks); null or '' here is a mistake. */
function resolveEndpoint(value: unknown = DEFAULT_ENDPOINT): string {
  const text = isText(value) ? (value as string).replace(/[\t\n\r]/g, '').trim() : ''
  if (ENDPOINT_PATH.test(text)) return text.replace(/\/+$/, '')
  try {
    // Anything but a string is no URL: '' makes the parser throw.
    const endpoint = new URL(text).href.replace(/\/*\??#?$/, '')
    if (ENDPOINT_URL.test(endpoint)) return endpoint
  } catch {}
  return fail('endpoint', ENDPOINT_RULE)
}

/** undefined, null or '' (an emptied field in JSON settings): the default stands. */
export const isAbsent = (value: unknown) => (value ?? '') === ''
export const TEXT_RULE = 'must be a string'
export const TEXTS_RULE = 'must be an array of non-empty strings'

/** A check, and the rule an error states when a value fails it. */
type Kind = readonly [check: Check, rule: string]
const TEXT: Kind = [isText, TEXT_RULE]
const TEXTS: Kind = [isTexts, TEXTS_RULE]
const POSITIVE: Kind = [isPositive, 'must be a positive number']
const BOOLEAN: Kind = [(v) => typeof v === 'boolean', 'must be true or false']
/** Every setting but the two read first. */
type OptionalName = Exclude<keyof TrustpilotSettings, 'apiKey' | 'endpoint'>
/** An optional setting: its name (its key in ResolvedSettings too), kind and default. */
type Optional = readonly [name: OptionalName, kind: Kind, fallback?: unknown]

/**
 * The optional settings' table: each row's name is a key of TrustpilotSettings. Made per call, with the
 * resolved endpoint: Trustpilot's script can't come through the relay, so a path takes only 'api'.
 */
const optionalSettings = (endpoint: string) =>
  [
    ['source', TEXT, DEFAULT_SOURCE],
    ['debug', BOOLEAN, false],
    ['timeoutMs', POSITIVE, 10_000],
    ['maxAttempts', POSITIVE, 10],
    ['maxAgeHours', POSITIVE, 72],
    ['consentCategories', TEXTS],
    ['excludeAudiences', TEXTS, []],
    ['templateId', TEXT],
    ['locale', TEXT],
    ['tags', TEXTS],
    [
      'transport',
      [
        // A path is the only endpoint that doesn't start with "http" (resolveEndpoint).
        (v) => v === 'api' || (v === 'script' && endpoint[0] === 'h'),
        'must be "api" or "script" ("api" with a path endpoint)',
      ],
      'api',
    ],
    ['trackOutcomes', BOOLEAN, false],
    ['dryRun', BOOLEAN, false],
  ] as const satisfies readonly Optional[]

/** Settings without a row in the table: none, or this does not compile (and the error names them). */
type Unchecked = Exclude<OptionalName, ReturnType<typeof optionalSettings>[number][0]>
export const everySettingHasARow: [Unchecked] extends [never] ? true : Unchecked = true

/** Checks and completes the settings; throws a TypeError naming the first bad setting. */
export function resolveSettings(input: TrustpilotSettings): ResolvedSettings {
  const settings = (input ?? {}) as unknown as Record<string, unknown>
  const resolved = {
    apiKey:
      (isText(settings.apiKey) && (settings.apiKey as string).trim()) ||
      fail('apiKey', 'is required: your Trustpilot Integration Key, as a non-empty string'),
    endpoint: resolveEndpoint(settings.endpoint),
  } as ResolvedSettings & Record<string, unknown>
  // One table and one loop rather than a call per setting, for the entry's size. Read in this order,
  // so an error names the first bad setting; made per call, so each gets its own [] of audiences.
  for (const [name, [check, rule], fallback] of optionalSettings(resolved.endpoint) as readonly Optional[]) {
    const value = settings[name]
    ;(resolved as Record<string, unknown>)[name] = isAbsent(value) ? fallback : check(value) ? value : fail(name, rule)
  }
  return resolved
}
