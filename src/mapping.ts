/**
 * Mapping: a pure function from an analytics-next event (plus the user's stored traits) to either a
 * Trustpilot invitation or the reason it was skipped. No I/O, no clock, no globals: everything the
 * outbox and transport do later starts from what this returns.
 *
 * The input comes from shop code we don't control, so it is read as `unknown` and never trusted:
 * wrong types are reasons, not exceptions.
 */
import { ORDER_COMPLETED } from './keys.js'
import { type Check, isText, isTexts } from './rules.js'
import { isAbsent, type ResolvedSettings, TEXT_RULE, TEXTS_RULE } from './settings.js'

/** One product, in Trustpilot's field names. Absent fields are left out, never sent as null. */
export interface InvitationProduct {
  sku?: string
  name?: string
  productUrl?: string
  imageUrl?: string
  brand?: string
  productId?: string
  gtin?: string
  mpn?: string
  categories?: string[]
  /** The Segment product's `price`, when it is a finite number. */
  price?: number
  /** The order's `properties.currency`, on every product, as Trustpilot's shop plugins send it. */
  currency?: string
}

/** The body of the first request (`products`/`productSkus` are added only after a 202). */
export interface InvitationBody {
  recipientEmail: string
  recipientName?: string
  referenceId: string
  source: string
  templateId?: string
  locale?: string
  tags?: string[]
  /** The order's `properties.total`, else `properties.revenue`: the first that is a finite number. */
  totalCost?: number
  /** The order's `properties.currency`, when it is a non-empty string. */
  currency?: string
}

export interface Invitation {
  body: InvitationBody
  products: InvitationProduct[]
  productSkus: string[]
}

/** An invitation, or why not (with the order's reference when it had a valid one). */
export type MappingResult = { invitation: Invitation } | { skip: string; referenceId?: string }

/** RFC 5321 caps a path at 256 octets, so an address is at most 254 characters. */
const MAX_EMAIL_LENGTH = 254
const MAX_REFERENCE_LENGTH = 255
const MAX_TEXT_LENGTH = 2048
/** Products sent with an invitation at most; past this an order is a data problem, not a basket. */
export const MAX_PRODUCTS = 100
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+$/

type Bag = Record<string, unknown>

const isBag = (value: unknown): value is Bag => typeof value === 'object' && value !== null && !Array.isArray(value)

const bag = (value: unknown): Bag => (isBag(value) ? value : {})

/** The value as a trimmed string (finite numbers become their decimal string); '' when it has none. */
const text = (value: unknown): string =>
  (isText(value)
    ? (value as string).trim()
    : Number.isFinite(value)
      ? // Doubles at or above 1e21 stringify in exponent form; BigInt gives their exact digits.
        `${Math.abs(value as number) < 1e21 ? value : BigInt(value as number)}`
      : ''
  ).slice(0, MAX_TEXT_LENGTH)

/**
 * The fields that have a value, in their order: absent fields are left out, never sent empty. One
 * test for every field: '', undefined and false (what `text`, a missing setting and `&&` give for
 * "none") go, a price of 0 stays. (A resolved setting is never '' or false, so none is lost here.)
 */
function present<T>(fields: Bag): T {
  // A plain loop: this runs for every product of an order, inside `track`.
  const kept: Bag = {}
  for (const key in fields) {
    const value = fields[key]
    if (value || value === 0) kept[key] = value
  }
  return kept as T
}

/** Two name parts joined with one space; either may be ''. */
const joinName = (first: string, last: string) => (first && last ? `${first} ${last}` : first || last)

/** Traits (Segment's spec): `name` is the full name; else `firstName`/`lastName`, else snake_case. */
const nameOfTraits = (from: Bag) =>
  text(from.name) ||
  joinName(text(from.firstName), text(from.lastName)) ||
  joinName(text(from.first_name), text(from.last_name))

/** The order's reference as mapOrder reads it (`properties.order_id`), when it is a valid one. */
export function referenceOf(event: unknown): string | undefined {
  const reference = text(bag(bag(event).properties).order_id)
  return (reference.length <= MAX_REFERENCE_LENGTH && reference) || undefined
}

/** Per-order options: `integrations: { Trustpilot: { templateId, locale, tags } }` on the event. */
const ORDER_OPTIONS = 'integrations.Trustpilot'
type OrderOptions = Pick<InvitationBody, 'templateId' | 'locale' | 'tags'>
/** Each option, checked by the same rule as the setting it overrides. */
const PER_ORDER: ReadonlyArray<readonly [keyof OrderOptions, Check, string]> = [
  ['templateId', isText, TEXT_RULE],
  ['locale', isText, TEXT_RULE],
  ['tags', isTexts, TEXTS_RULE],
]

/**
 * Maps one event. Returns `{ invitation }` for a valid `Order Completed`, or `{ skip: reason }`.
 * Reasons name the field and what was wrong, and never quote the email address: they may reach logs
 * that must not hold personal data. They are a contract (tests and docs name them), so each is
 * spelled out in full where it is returned.
 * @param event the analytics-next event (`ctx.event`)
 * @param userTraits the traits analytics-next keeps for the user (`analytics.user().traits()`)
 */
export function mapOrder(event: unknown, userTraits: unknown, settings: ResolvedSettings): MappingResult {
  const ev = bag(event)
  if (ev.type !== 'track' || ev.event !== ORDER_COMPLETED) return { skip: 'not an Order Completed track event' }
  const properties = bag(ev.properties)
  const context = bag(ev.context)
  const contextTraits = bag(context.traits)
  const traits = bag(userTraits)

  const orderId = properties.order_id
  if (orderId === undefined || orderId === null) return { skip: 'properties.order_id is missing' }
  const referenceId = text(orderId)
  if (!referenceId) return { skip: 'properties.order_id must be a non-empty string or a finite number' }
  if (referenceId.length > MAX_REFERENCE_LENGTH) {
    return { skip: `properties.order_id is longer than ${MAX_REFERENCE_LENGTH} characters` }
  }
  const skip = (reason: string) => ({ skip: reason, referenceId })

  // Consent stamp check: every listed category must be granted `true`.
  const required = settings.consentCategories
  if (required) {
    const preferences = bag(context.consent).categoryPreferences
    if (!isBag(preferences)) {
      return skip('no consent stamp (context.consent.categoryPreferences); consentCategories requires one')
    }
    // The categories not granted, listed for the reason ('' when there are none).
    const missing = required.filter((category) => preferences[category] !== true).join(', ')
    if (missing) return skip(`consent not granted for: ${missing}`)
  }

  // The event's own templateId, locale and tags, over the settings' (Segment's convention: a
  // destination's entry in `integrations` may be an object of options).
  const options: Bag = {}
  const ownOptions = bag(bag(ev.integrations).Trustpilot)
  for (const [field, check, rule] of PER_ORDER) {
    const own = ownOptions[field]
    if (!isAbsent(own) && !check(own)) return skip(`${ORDER_OPTIONS}.${field} ${rule}`)
    // Absent, null or '' on the event: the setting stands, as for the settings themselves. A value
    // that passed its check is never falsy, so `||` falls back for exactly those.
    options[field] = own || settings[field]
  }

  const audience = settings.excludeAudiences.find((key) => contextTraits[key] === true || traits[key] === true)
  if (audience) return skip(`the user is in the excluded audience "${audience}"`)

  // The first present email wins; an invalid one is a reason, not a cue to look further. Each is
  // labelled as the reason names it.
  const found = (
    [
      ['properties.email', properties.email],
      ['context.traits.email', contextTraits.email],
      ['user traits.email', traits.email],
    ] as const
  ).find(([, value]) => !isAbsent(value))
  if (!found) return skip("no email in properties.email, context.traits.email or the user's traits")
  const [where, value] = found
  const email = text(value)
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(email)) {
    return skip(`${where} is not an email address (one @, no spaces, at most ${MAX_EMAIL_LENGTH} characters)`)
  }

  // Order properties: `name` + `surname` (or `last_name`), else `first_name` + `last_name`; `surname`
  // counts only after a `name`. Then the event's traits, then the user's.
  const name = text(properties.name)
  const recipientName =
    joinName(name || text(properties.first_name), (name && text(properties.surname)) || text(properties.last_name)) ||
    nameOfTraits(contextTraits) ||
    nameOfTraits(traits)
  // What Trustpilot's own shop integrations (Magento, WooCommerce) send with the invitation.
  const { total, revenue } = properties
  // Read once, for the body and every product: a string only (a number is no currency code).
  const currency = isText(properties.currency) && text(properties.currency)
  const body = present<InvitationBody>({
    recipientEmail: email,
    referenceId,
    source: settings.source,
    recipientName,
    ...options,
    totalCost: Number.isFinite(total) ? total : Number.isFinite(revenue) && revenue,
    currency,
  })

  // slice first: a sparse array of length 2³²−1 from shop code must not freeze the page.
  const products = (Array.isArray(properties.products) ? properties.products : [])
    .slice(0, MAX_PRODUCTS)
    .filter(isBag)
    .map((item) => {
      // Trustpilot's field names, each read from the Segment product property (`sku` falls back to
      // `product_id`); `categories` is a list of the one `category`; `price` only when it is a finite
      // number; `currency` is the order's, on every product, as Trustpilot's shop plugins send it.
      const productId = text(item.product_id)
      const category = text(item.category)
      return present<InvitationProduct>({
        sku: text(item.sku) || productId,
        name: text(item.name),
        productUrl: text(item.url),
        imageUrl: text(item.image_url),
        brand: text(item.brand),
        productId,
        gtin: text(item.gtin),
        mpn: text(item.mpn),
        categories: category && [category],
        price: Number.isFinite(item.price) && item.price,
        currency,
      })
    })
  // Each sku once, in order; a product without one adds none.
  const productSkus = [...new Set(products.map((product) => product.sku))].filter((sku) => sku) as string[]
  return { invitation: { body, products, productSkus } }
}

/** The body of the second request, sent after Trustpilot answered 202. */
export const withProducts = ({ body, products, productSkus }: Invitation) => ({ ...body, products, productSkus })
