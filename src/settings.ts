/**
 * Settings: the only place user-supplied configuration is checked. Everything after this file can
 * trust a ResolvedSettings. Errors name the setting and what was wrong, because the settings often
 * come from the Segment app (remote plugin) where a typo is otherwise invisible.
 */
import type { TrustpilotSettings } from './types.js'

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

const ENDPOINT_RULE =
  'must be an https: URL (http: only for 127.0.0.0/8, localhost, [::1]) with no query, hash or credentials'

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

export type Check = (value: unknown) => boolean
/** Absent, null or '' (what the Segment app sends for an emptied field): the default stands. */
export const isAbsent = (value: unknown) => value === undefined || value === null || value === ''
export const isText: Check = (v) => typeof v === 'string'
export const isTexts: Check = (v) => Array.isArray(v) && v.every((item) => typeof item === 'string' && item !== '')
const isPositive: Check = (v) => typeof v === 'number' && v > 0 && v < Infinity
export const TEXT_RULE = 'must be a string'
export const TEXTS_RULE = 'must be an array of non-empty strings'

/** The setting's value, or `fallback` when it is absent; a present value must pass `check`. */
function read<T>(settings: Record<string, unknown>, name: string, check: Check, rule: string, fallback?: T): T {
  const value = settings[name]
  if (isAbsent(value)) return fallback as T
  return check(value) ? (value as T) : fail(name, rule)
}

/** Checks and completes the settings; throws a TypeError naming the first bad setting. */
export function resolveSettings(input: TrustpilotSettings): ResolvedSettings {
  const settings = (input ?? {}) as unknown as Record<string, unknown>
  const apiKey = settings.apiKey
  if (typeof apiKey !== 'string' || !apiKey.trim()) {
    fail('apiKey', 'is required: your Trustpilot Integration Key, as a non-empty string')
  }
  const text = (name: string, fallback?: string) => read(settings, name, isText, TEXT_RULE, fallback)
  const texts = (name: string) => read<string[] | undefined>(settings, name, isTexts, TEXTS_RULE)
  const number = (name: string, fallback: number) =>
    read(settings, name, isPositive, 'must be a positive number', fallback)

  return {
    apiKey: (apiKey as string).trim(),
    endpoint: resolveEndpoint(settings.endpoint),
    source: text('source', DEFAULT_SOURCE),
    debug: read(settings, 'debug', (v) => typeof v === 'boolean', 'must be true or false', false),
    timeoutMs: number('timeoutMs', 10_000),
    maxAttempts: Math.ceil(number('maxAttempts', 10)),
    maxAgeMs: number('maxAgeHours', 72) * 3_600_000,
    consentCategories: texts('consentCategories'),
    excludeAudiences: texts('excludeAudiences') ?? [],
    templateId: text('templateId'),
    locale: text('locale'),
    tags: texts('tags'),
    transport: read(settings, 'transport', (v) => v === 'api' || v === 'script', 'must be "api" or "script"', 'api'),
  }
}
