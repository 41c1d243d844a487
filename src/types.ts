/**
 * The package's public types, in a module of their own: every other module may import them, and
 * they import nothing, so the import graph keeps one direction (entry above delivery module).
 */

/** Settings of {@link trustpilot}. Only `apiKey` is required. */
export interface TrustpilotSettings {
  /** Your Trustpilot Integration Key (Trustpilot Business → Integrations → JavaScript). Required. */
  apiKey: string
  /**
   * Where invitations are posted: `{endpoint}/api/{apiKey}/invitation`.
   * Must be `https:` (`http:` only for loopback hosts: 127.0.0.0/8, localhost, [::1]), or a path on
   * the page's origin (`'/trustpilot'`) where the shop's server runs the relay
   * (`analytics-plugin-trustpilot/relay`), for buyers whose content blocker stops Trustpilot's host.
   * A path works with `transport: 'api'` only.
   * @defaultValue `'https://invitejs.trustpilot.com'`
   */
  endpoint?: string
  /** The invitation's `source`. @defaultValue `'InvitationScript'` */
  source?: string
  /** Also log reasons and invitations (with the email address) to the console. @defaultValue `false` */
  debug?: boolean
  /**
   * How long one request may take before it counts as failed (and is retried); also the longest an
   * order's `track` waits for the delivery module to load. @defaultValue `10000`
   */
  timeoutMs?: number
  /** Attempts per invitation before it is given up (reported as failed). @defaultValue `10` */
  maxAttempts?: number
  /** Age after which a still-undelivered invitation is given up. @defaultValue `72` */
  maxAgeHours?: number
  /**
   * Consent categories that must all be granted (`true` in the event's
   * `context.consent.categoryPreferences`) for an invitation to be sent. An event with no consent
   * stamp is skipped. @defaultValue unset: no consent check
   */
  consentCategories?: string[]
  /** Engage audience keys: a user with any of them `true` in their traits is not invited. @defaultValue `[]` */
  excludeAudiences?: string[]
  /**
   * Passed to Trustpilot as the invitation's `templateId`, as given. One order can override it, and
   * `locale` and `tags`, with `integrations: { Trustpilot: { templateId, locale, tags } }` in its
   * `track` options.
   */
  templateId?: string
  /** Passed to Trustpilot as the invitation's `locale`, as given (e.g. `'en-US'`); per order too. */
  locale?: string
  /** Passed to Trustpilot as the invitation's `tags`, as given; per order too. */
  tags?: string[]
  /**
   * `'api'` speaks Trustpilot's HTTP protocol directly; `'script'` loads Trustpilot's own
   * `tp.min.js` on the first order and hands invitations to it, one at a time. Through the script
   * only "error" (400 and above, a permanent failure) or "no error" can be told. @defaultValue `'api'`
   */
  transport?: 'api' | 'script'
  /**
   * Also report each final outcome to Segment, as one `analytics.track` on the page where it is known:
   * `Review Invitation Sent`, `Review Invitation Failed` or `Review Invitation Skipped`, with
   * properties `order_id`, `reason`, `provider: 'Trustpilot'` and `transport`, never an email address
   * or a name. None for `retrying`, nor for an order already invited or pending. They go with
   * `integrations: { Trustpilot: false }`. Off by default: each is an event on your Segment bill.
   * @defaultValue `false`
   */
  trackOutcomes?: boolean
  /**
   * For a staging site: each valid order is mapped and reported `skipped` with the reason
   * `dry run: not sent`. Nothing goes to Trustpilot and nothing is stored. With `debug`, the
   * invitation that would have gone is logged; with `trackOutcomes`, the skip reaches Segment.
   * @defaultValue `false`
   */
  dryRun?: boolean
}

/** What a destination middleware is handed: `obj` is a copy of the event, its own to change. */
export interface TrustpilotPayload {
  obj: Record<string, any>
}

/**
 * A destination middleware, as `analytics.addDestinationMiddleware('Trustpilot', fn)` (or `'*'`)
 * hands it to the plugin: `next(payload)` passes the order on, changed or not; `next(null)`, or
 * returning without calling `next`, drops it. Only `payload.obj` is given (analytics-next's payload is
 * a Facade with helpers too; read and change `obj`).
 */
export type TrustpilotMiddleware = (params: {
  payload: TrustpilotPayload
  integration: string
  next(payload: TrustpilotPayload | null): void
}) => void | Promise<void>

/**
 * What became of an `Order Completed`, emitted on analytics as `'trustpilot'`:
 * `analytics.on('trustpilot', (outcome) => …)`. A failure is also emitted as analytics-next's
 * `'error'` event with `code: 'delivery_failure'`, the way its Segment.io plugin reports one.
 */
export interface TrustpilotOutcome {
  /**
   * `sent`: Trustpilot accepted it. `skipped`: not sent (invalid event, consent, audience, dropped by
   * destination middleware, already invited, `dryRun`). `retrying`: a transient failure, another attempt is scheduled. `failed`: given up.
   */
  status: 'sent' | 'skipped' | 'retrying' | 'failed'
  /** The order's reference (`order_id` as a string), when the event had one. */
  referenceId?: string
  /** Why, in words that name the field or the answer. Never contains the email address. */
  reason: string
  /** For `retrying` and `failed`: the typed error (see the exported error classes). */
  error?: Error
}
