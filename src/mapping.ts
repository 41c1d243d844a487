/**
 * Mapping: a pure function from an analytics-next event (plus the user's stored traits) to either a
 * Trustpilot invitation or the reason it was skipped. No I/O, no clock, no globals: everything the
 * outbox and transport do later starts from what this returns.
 *
 * The input comes from shop code we don't control, so it is read as `unknown` and never trusted:
 * wrong types are reasons, not exceptions.
 */
import { type Check, isAbsent, isText, isTexts, type ResolvedSettings, TEXT_RULE, TEXTS_RULE } from './settings.js'

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
}

export interface Invitation {
  body: InvitationBody
  products: InvitationProduct[]
  productSkus: string[]
}

/** An invitation, or why not (with the order's reference when it had a valid one). */
export type MappingResult = { invitation: Invitation } | { skip: string; referenceId?: string }

export const ORDER_COMPLETED = 'Order Completed'
/** RFC 5321 caps a path at 256 octets, so an address is at most 254 characters. */
const MAX_EMAIL_LENGTH = 254
const MAX_REFERENCE_LENGTH = 255
const MAX_TEXT_LENGTH = 2048
/** Products sent with an invitation at most; past this an order is a data problem, not a basket. */
export const MAX_PRODUCTS = 100
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+$/

/**
 * Each Trustpilot product field, the Segment product property it is read from, and a fallback
 * property. `categories` is a list: it gets the one `category`.
 */
const PRODUCT_FIELDS: ReadonlyArray<readonly [string, string, string?]> = [
  ['sku', 'sku', 'product_id'],
  ['name', 'name'],
  ['productUrl', 'url'],
  ['imageUrl', 'image_url'],
  ['brand', 'brand'],
  ['productId', 'product_id'],
  ['gtin', 'gtin'],
  ['mpn', 'mpn'],
  ['categories', 'category'],
]

type Bag = Record<string, unknown>

const isBag = (value: unknown): value is Bag => typeof value === 'object' && value !== null && !Array.isArray(value)

const bag = (value: unknown): Bag => (isBag(value) ? value : {})

/** A trimmed, non-empty string (finite numbers become their decimal string), or undefined. */
function text(value: unknown): string | undefined {
  const s =
    typeof value === 'string'
      ? value.trim()
      : !Number.isFinite(value)
        ? ''
        : // Doubles at or above 1e21 stringify in exponent form; BigInt gives their exact digits.
          Math.abs(value as number) < 1e21
          ? String(value)
          : BigInt(value as number).toString()
  return s ? s.slice(0, MAX_TEXT_LENGTH) : undefined
}

/** Two name parts joined with one space; either may be missing. */
const joinName = (first?: string, last?: string) => (first && last ? `${first} ${last}` : first || last)

/** Traits (Segment's spec): `name` is the full name; else `firstName`/`lastName`, else snake_case. */
const nameOfTraits = (t: Bag): string | undefined =>
  text(t.name) ?? joinName(text(t.firstName), text(t.lastName)) ?? joinName(text(t.first_name), text(t.last_name))

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
 * The event's own templateId, locale and tags, over the settings' (Segment's convention: a
 * destination's entry in `integrations` may be an object of options). A reason when one is invalid.
 */
function orderOptions(integrations: Bag, settings: ResolvedSettings): OrderOptions | string {
  const given = bag(integrations.Trustpilot)
  const options: Record<string, unknown> = {}
  for (const [field, check, rule] of PER_ORDER) {
    // Absent, null or '' on the event: the setting stands, as for the settings themselves.
    const own = given[field]
    if (!isAbsent(own) && !check(own)) return `${ORDER_OPTIONS}.${field} ${rule}`
    const value = isAbsent(own) ? settings[field] : own
    if (value) options[field] = value
  }
  return options
}

/** Consent stamp check: every listed category must be granted `true`. */
function consentProblem(context: Bag, required: string[] | undefined): string | undefined {
  if (!required) return undefined
  const preferences = bag(context.consent).categoryPreferences
  if (!isBag(preferences))
    return 'no consent stamp (context.consent.categoryPreferences); consentCategories requires one'
  const missing = required.filter((category) => preferences[category] !== true)
  return missing.length ? `consent not granted for: ${missing.join(', ')}` : undefined
}

/**
 * Maps one event. Returns `{ invitation }` for a valid `Order Completed`, or `{ skip: reason }`.
 * Reasons name the field and what was wrong, and never quote the email address: they may reach logs
 * that must not hold personal data.
 * @param event the analytics-next event (`ctx.event`)
 * @param userTraits the traits analytics-next keeps for the user (`analytics.user().traits()`)
 */
export function mapOrder(event: unknown, userTraits: unknown, settings: ResolvedSettings): MappingResult {
  const ev = bag(event)
  if (ev.type !== 'track' || ev.event !== ORDER_COMPLETED) return { skip: `not an ${ORDER_COMPLETED} track event` }
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

  const consent = consentProblem(context, settings.consentCategories)
  if (consent) return skip(consent)

  const options = orderOptions(bag(ev.integrations), settings)
  if (typeof options === 'string') return skip(options)

  const audience = settings.excludeAudiences.find((key) => contextTraits[key] === true || traits[key] === true)
  if (audience) return skip(`the user is in the excluded audience "${audience}"`)

  // The first present email wins; an invalid one is a reason, not a cue to look further.
  const [where, value] = (
    [
      ['properties', properties.email],
      ['context.traits', contextTraits.email],
      ['user traits', traits.email],
    ] as const
  ).find(([, email]) => email !== undefined && email !== null && email !== '') ?? ['', '']
  const email = typeof value === 'string' ? value.trim() : ''
  if (!where) return skip("no email in properties.email, context.traits.email or the user's traits")
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(email)) {
    return skip(`${where}.email is not an email address (one @, no spaces, at most ${MAX_EMAIL_LENGTH} characters)`)
  }

  const body: InvitationBody = { recipientEmail: email, referenceId, source: settings.source }
  // Order properties: `name` + `surname` (or `last_name`), else `first_name` + `last_name`.
  const recipientName =
    (text(properties.name)
      ? joinName(text(properties.name), text(properties.surname) ?? text(properties.last_name))
      : joinName(text(properties.first_name), text(properties.last_name))) ??
    nameOfTraits(contextTraits) ??
    nameOfTraits(traits)
  if (recipientName) body.recipientName = recipientName
  Object.assign(body, options)

  // slice first: a sparse array of length 2³²−1 from shop code must not freeze the page.
  const list = Array.isArray(properties.products) ? properties.products.slice(0, MAX_PRODUCTS) : []
  const currency = text(properties.currency)
  const products = list.filter(isBag).map((item) => {
    const product: Record<string, unknown> = {}
    for (const [field, property, fallback] of PRODUCT_FIELDS) {
      const value = text(item[property]) ?? (fallback && text(item[fallback]))
      if (value) product[field] = field === 'categories' ? [value] : value
    }
    if (Number.isFinite(item.price)) product.price = item.price
    if (currency) product.currency = currency
    return product as InvitationProduct
  })
  const productSkus = [...new Set(products.flatMap((product) => product.sku ?? []))]
  return { invitation: { body, products, productSkus } }
}

/** The body of the second request, sent after Trustpilot answered 202. */
export const withProducts = (invitation: Invitation) => ({
  ...invitation.body,
  products: invitation.products,
  productSkus: invitation.productSkus,
})
