/**
 * Mapping: a pure function from an analytics-next event (plus the user's stored traits) to either a
 * Trustpilot invitation or the reason it was skipped. No I/O, no clock, no globals: everything the
 * outbox and transport do later starts from what this returns.
 *
 * The input comes from shop code we don't control, so it is read as `unknown` and never trusted:
 * wrong types are reasons, not exceptions.
 */
import type { ResolvedSettings } from './settings.js'

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

type Bag = Record<string, unknown>

const isBag = (value: unknown): value is Bag => typeof value === 'object' && value !== null && !Array.isArray(value)

const bag = (value: unknown): Bag => (isBag(value) ? value : {})

/** A trimmed, non-empty string (numbers become their string), or undefined. */
function text(value: unknown): string | undefined {
  const s =
    typeof value === 'string' ? value.trim() : typeof value === 'number' && Number.isFinite(value) ? String(value) : ''
  return s ? s.slice(0, MAX_TEXT_LENGTH) : undefined
}

/** Doubles at or above 1e21 stringify in exponent form; BigInt gives their exact decimal digits. */
const decimal = (n: number): string => (Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString())

function referenceIdOf(properties: Bag): string | { skip: string } {
  const orderId = properties.order_id
  if (orderId === undefined || orderId === null) return { skip: 'properties.order_id is missing' }
  const id =
    typeof orderId === 'string'
      ? orderId.trim()
      : typeof orderId === 'number' && Number.isFinite(orderId)
        ? decimal(orderId)
        : ''
  if (!id) return { skip: 'properties.order_id must be a non-empty string or a finite number' }
  if (id.length > MAX_REFERENCE_LENGTH) {
    return { skip: `properties.order_id is longer than ${MAX_REFERENCE_LENGTH} characters` }
  }
  return id
}

/**
 * The first present email of properties, context traits and stored user traits. The reasons never
 * quote the address itself: they may reach logs that must not hold personal data.
 */
function emailOf(sources: Array<[string, Bag]>): string | { skip: string } {
  for (const [where, source] of sources) {
    const value = source.email
    if (value === undefined || value === null || value === '') continue
    const email = typeof value === 'string' ? value.trim() : ''
    return email.length <= MAX_EMAIL_LENGTH && EMAIL_SHAPE.test(email)
      ? email
      : {
          skip: `${where}.email is not an email address (one @ with text either side, no spaces, at most ${MAX_EMAIL_LENGTH} characters)`,
        }
  }
  return { skip: "no email in properties.email, context.traits.email or the user's traits" }
}

const joinName = (...parts: Array<string | undefined>): string | undefined =>
  parts.filter(Boolean).join(' ') || undefined

/** Order properties: `name` + `surname` (or `last_name`), else `first_name` + `last_name`. */
const nameOfProperties = (p: Bag): string | undefined =>
  text(p.name) !== undefined
    ? joinName(text(p.name), text(p.surname) ?? text(p.last_name))
    : joinName(text(p.first_name), text(p.last_name))

/** Traits (Segment's spec): `name` is the full name; else `firstName`/`lastName`, else snake_case. */
const nameOfTraits = (t: Bag): string | undefined =>
  text(t.name) ?? joinName(text(t.firstName), text(t.lastName)) ?? joinName(text(t.first_name), text(t.last_name))

function productOf(item: Bag): InvitationProduct {
  const product: InvitationProduct = {}
  const set = (key: keyof Omit<InvitationProduct, 'categories'>, value: unknown) => {
    const s = text(value)
    if (s !== undefined) product[key] = s
  }
  set('sku', item.sku ?? item.product_id)
  set('name', item.name)
  set('productUrl', item.url)
  set('imageUrl', item.image_url)
  set('brand', item.brand)
  set('productId', item.product_id)
  set('gtin', item.gtin)
  set('mpn', item.mpn)
  const category = text(item.category)
  if (category !== undefined) product.categories = [category]
  return product
}

/** Consent stamp check: every listed category must be granted `true`. */
function consentProblem(context: Bag, required: string[] | undefined): string | undefined {
  if (!required) return undefined
  const preferences = bag(context.consent).categoryPreferences
  if (!isBag(preferences)) {
    return 'no consent stamp (context.consent.categoryPreferences) on the event; consentCategories requires one'
  }
  const missing = required.filter((category) => preferences[category] !== true)
  return missing.length ? `consent not granted for: ${missing.join(', ')}` : undefined
}

/**
 * Maps one event. Returns `{ invitation }` for a valid `Order Completed`, or `{ skip: reason }`.
 * @param event the analytics-next event (`ctx.event`)
 * @param userTraits the traits analytics-next keeps for the user (`analytics.user().traits()`)
 */
export function mapOrder(event: unknown, userTraits: unknown, settings: ResolvedSettings): MappingResult {
  const ev = bag(event)
  if (ev.type !== 'track' || ev.event !== ORDER_COMPLETED) {
    return { skip: `not an ${ORDER_COMPLETED} track event` }
  }
  const properties = bag(ev.properties)
  const context = bag(ev.context)
  const contextTraits = bag(context.traits)
  const traits = bag(userTraits)

  const referenceId = referenceIdOf(properties)
  if (typeof referenceId !== 'string') return referenceId
  const skip = (reason: string) => ({ skip: reason, referenceId })

  const consent = consentProblem(context, settings.consentCategories)
  if (consent) return skip(consent)

  const audience = settings.excludeAudiences.find((key) => contextTraits[key] === true || traits[key] === true)
  if (audience) return skip(`the user is in the excluded audience "${audience}"`)

  const email = emailOf([
    ['properties', properties],
    ['context.traits', contextTraits],
    ['user traits', traits],
  ])
  if (typeof email !== 'string') return skip(email.skip)

  const body: InvitationBody = { recipientEmail: email, referenceId, source: settings.source }
  const recipientName = nameOfProperties(properties) ?? nameOfTraits(contextTraits) ?? nameOfTraits(traits)
  if (recipientName) body.recipientName = recipientName
  if (settings.templateId) body.templateId = settings.templateId
  if (settings.locale) body.locale = settings.locale
  if (settings.tags) body.tags = settings.tags

  // slice first: a sparse array of length 2³²−1 from shop code must not freeze the page.
  const list = Array.isArray(properties.products) ? properties.products.slice(0, MAX_PRODUCTS) : []
  const products = list.filter(isBag).map(productOf)
  const productSkus = [...new Set(products.map((p) => p.sku).filter((sku): sku is string => !!sku))]
  return { invitation: { body, products, productSkus } }
}

/** The body of the second request, sent after Trustpilot answered 202. */
export const withProducts = (invitation: Invitation) => ({
  ...invitation.body,
  products: invitation.products,
  productSkus: invitation.productSkus,
})
