// Compiled (never run) against the published types, dist/index.d.ts, under strict settings: what a
// shop's TypeScript code can and cannot write. `npm run test:types` fails if any line here breaks.
import { AnalyticsBrowser } from '@segment/analytics-next'
import {
  DeliveryAbandonedError,
  IntegrationDisabledError,
  InvitationRejectedError,
  onTrustpilotOutcome,
  RetryableError,
  type TrustpilotOutcome,
  type TrustpilotSettings,
  trustpilot,
} from 'analytics-plugin-trustpilot'
import {
  type NodeHandlerOptions,
  type TrustpilotRelayOptions,
  toNodeHandler,
  trustpilotRelay,
} from 'analytics-plugin-trustpilot/relay'

const analytics = AnalyticsBrowser.load({ writeKey: 'write-key' })

// Every setting, checked against the type's keys: a setting added to TrustpilotSettings and left out
// here fails to compile (`satisfies Required<…>`), as does a key here it doesn't have.
const settings = {
  apiKey: 'integration-key',
  endpoint: 'https://invitejs.trustpilot.com',
  source: 'InvitationScript',
  debug: false,
  timeoutMs: 10_000,
  maxAttempts: 10,
  maxAgeHours: 72,
  consentCategories: ['C0004'],
  excludeAudiences: ['recent_complainers'],
  templateId: 'template',
  locale: 'en-US',
  tags: ['web'],
  transport: 'script',
  trackOutcomes: true,
  dryRun: false,
} satisfies Required<TrustpilotSettings>
void analytics.register(trustpilot(settings))
// A path on the page's origin, for the first-party relay.
void analytics.register(trustpilot({ apiKey: 'integration-key', endpoint: '/trustpilot' }))
void analytics.register(trustpilot({ apiKey: 'integration-key' }))

onTrustpilotOutcome(analytics, (outcome: TrustpilotOutcome) => {
  const status: 'sent' | 'skipped' | 'retrying' | 'failed' = outcome.status
  const reference: string | undefined = outcome.referenceId
  const reason: string = outcome.reason
  if (outcome.error instanceof InvitationRejectedError) console.log(outcome.error.status)
  if (outcome.error instanceof RetryableError) console.log(outcome.error.retryAfterMs)
  console.log(status, reference, reason)
})
const errors: Error[] = [
  new DeliveryAbandonedError('x'),
  new IntegrationDisabledError('Trustpilot integration disabled or domain blocked (HTTP 251)', { status: 251 }),
]
console.log(errors)

// @ts-expect-error apiKey is required
trustpilot({})
// @ts-expect-error transport is 'api' or 'script'
trustpilot({ apiKey: 'k', transport: 'beacon' })
// @ts-expect-error timeoutMs is a number
trustpilot({ apiKey: 'k', timeoutMs: '100' })
// @ts-expect-error outcome listeners receive outcomes, not numbers
onTrustpilotOutcome(analytics, (outcome: number) => outcome)

// The relay, for the shop's server: a web-standard fetch handler, and one for node:http and Express.
const relay: (request: Request) => Promise<Response> = trustpilotRelay({
  apiKeys: ['integration-key'],
  origins: ['https://shop.example'],
  path: '/trustpilot',
  upstream: 'https://invitejs.trustpilot.com',
  timeoutMs: 10_000,
  maxInFlight: 64,
} satisfies Required<TrustpilotRelayOptions>)
void toNodeHandler(relay)
void toNodeHandler(relay, { bodyTimeoutMs: 10_000 } satisfies Required<NodeHandlerOptions>)
// @ts-expect-error bodyTimeoutMs is a number
toNodeHandler(relay, { bodyTimeoutMs: '10s' })
// @ts-expect-error origins is required
trustpilotRelay({ apiKeys: ['k'] })
