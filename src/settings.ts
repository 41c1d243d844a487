/**
 * Settings: the only place user-supplied configuration is checked. Everything after this file can
 * trust a ResolvedSettings. Errors name the setting and what was wrong, because the settings often
 * come from the Segment app (remote plugin) where a typo is otherwise invisible.
 */
import type { TrustpilotSettings } from './index'

export const DEFAULT_ENDPOINT = 'https://invitejs.trustpilot.com'
export const DEFAULT_SOURCE = 'InvitationScript'

export interface ResolvedSettings {
  apiKey: string
  /** Origin and path with no trailing slash. */
  endpoint: string
  source: string
  debug: boolean
  timeoutMs: number
  maxAttempts: number
  maxAgeMs: number
  consentCategories: string[] | undefined
  excludeAudiences: string[]
  templateId: string | undefined
  locale: string | undefined
  tags: string[] | undefined
  transport: 'api' | 'script'
}

const fail = (setting: string, problem: string): never => {
  throw new TypeError(`Trustpilot: setting "${setting}" ${problem}`)
}

const isLoopbackHost = (host: string): boolean =>
  host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)

const ENDPOINT_RULE = 'must be an https: URL (http: only for 127.0.0.0/8, localhost, [::1]) with no query, hash or credentials'

function resolveEndpoint(value: unknown): string {
  if (value === undefined) return DEFAULT_ENDPOINT
  let url: URL | undefined
  try {
    url = new URL(String(value).trim())
  } catch {}
  const allowed =
    url &&
    (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))) &&
    !(url.search || url.hash || url.username || url.password)
  if (typeof value !== 'string' || !url || !allowed) return fail('endpoint', ENDPOINT_RULE)
  return url.origin + url.pathname.replace(/\/+$/, '')
}

function optionalString(settings: Record<string, unknown>, name: string): string | undefined {
  const value = settings[name]
  if (value === undefined || value === null || value === '') return undefined
  return typeof value === 'string' ? value : fail(name, 'must be a string')
}

function optionalStrings(settings: Record<string, unknown>, name: string): string[] | undefined {
  const value = settings[name]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '')) {
    return fail(name, 'must be an array of non-empty strings')
  }
  return [...value]
}

function positiveNumber(settings: Record<string, unknown>, name: string, fallback: number): number {
  const value = settings[name]
  if (value === undefined || value === null) return fallback
  return typeof value === 'number' && Number.isFinite(value) && value > 0
    ? value
    : fail(name, 'must be a positive number')
}

function optionalBoolean(settings: Record<string, unknown>, name: string): boolean {
  const value = settings[name]
  if (value === undefined || value === null) return false
  return typeof value === 'boolean' ? value : fail(name, 'must be true or false')
}

/** Checks and completes the settings; throws a TypeError naming the first bad setting. */
export function resolveSettings(input: TrustpilotSettings): ResolvedSettings {
  const settings = (input ?? {}) as unknown as Record<string, unknown>
  const apiKey = settings.apiKey
  if (typeof apiKey !== 'string' || !apiKey.trim()) {
    fail('apiKey', 'is required: your Trustpilot Integration Key, as a non-empty string')
  }
  const transport = settings.transport ?? 'api'
  if (transport !== 'api' && transport !== 'script') fail('transport', 'must be "api" or "script"')

  return {
    apiKey: (apiKey as string).trim(),
    endpoint: resolveEndpoint(settings.endpoint),
    source: optionalString(settings, 'source') ?? DEFAULT_SOURCE,
    debug: optionalBoolean(settings, 'debug'),
    timeoutMs: positiveNumber(settings, 'timeoutMs', 10_000),
    maxAttempts: Math.ceil(positiveNumber(settings, 'maxAttempts', 10)),
    maxAgeMs: positiveNumber(settings, 'maxAgeHours', 72) * 3_600_000,
    consentCategories: optionalStrings(settings, 'consentCategories'),
    excludeAudiences: optionalStrings(settings, 'excludeAudiences') ?? [],
    templateId: optionalString(settings, 'templateId'),
    locale: optionalString(settings, 'locale'),
    tags: optionalStrings(settings, 'tags'),
    transport: transport as 'api' | 'script',
  }
}
