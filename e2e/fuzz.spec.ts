/**
 * Property-based fuzzing of the plugin in analytics-next in Chromium: hundreds of malformed
 * `Order Completed` events (wrong types everywhere, nulls, huge strings, deep nesting,
 * `__proto__`/`constructor`/`prototype` keys, odd unicode, junk products) go through the harness
 * page with the plugin loaded from dist/index.js, against msw's fake Trustpilot.
 *
 * Every generated event is invalid by construction (see "Why every event is invalid" below), so the
 * plugin must skip each one with a reason, send nothing, throw nothing, pollute no prototype and
 * leave the other destination alone.
 *
 * Reproducible: the events come from `fc.sample` with a fixed seed. Another seed:
 * `FUZZ_SEED=123 npx playwright test e2e/fuzz.spec.ts`. A failure names the seed and the events.
 *
 * How the values reach the page: each value is written as JSON text on the Node side and parsed in
 * the page with `JSON.parse`, so `__proto__`, `constructor` and `prototype` keys become own
 * properties (as they do in any JSON a shop receives). What JSON can't carry (NaN, ±Infinity, -0,
 * undefined, BigInt, symbols, functions, boxed primitives, null-prototype objects, frozen objects,
 * sparse arrays, huge strings, deep nesting…) is written as a marker object `{"\u0000fuzz": kind}`
 * that the reviver turns into the real value in the page.
 */

import type { Page } from '@playwright/test'
import fc from 'fast-check'
import { expect, test } from './support/fixtures'

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_7a57)
/** Malformed events in total (at least 500). */
const EVENTS = 600
const BATCH_SIZE = 50
const BATCHES = Math.ceil(EVENTS / BATCH_SIZE)
const ORDER_COMPLETED = 'Order Completed'
/** The key of marker objects; no generated key is ever equal to it. */
const TAG = '\u0000fuzz'
/** Keys that a prototype-pollution payload tries to plant on Object.prototype and friends. */
const POLLUTION_KEYS = ['polluted', 'fuzzPolluted', 'isAdmin'] as const

// ---------------------------------------------------------------------------------------------
// Validity (values are trimmed first, as the plugin trims them)
// ---------------------------------------------------------------------------------------------

/** One '@', text either side, no whitespace (after trimming, as the plugin trims). */
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+$/
const looksLikeEmail = (value: unknown) => typeof value === 'string' && EMAIL_SHAPE.test(value.trim())

// ---------------------------------------------------------------------------------------------
// JSON text builders
// ---------------------------------------------------------------------------------------------

type Json = string
const str = (s: string): Json => JSON.stringify(s)
const obj = (entries: ReadonlyArray<readonly [string, Json]>): Json =>
  `{${entries.map(([k, v]) => `${str(k)}:${v}`).join(',')}}`
const arr = (items: readonly Json[]): Json => `[${items.join(',')}]`
const marker = (kind: string, fields: Record<string, Json> = {}): Json =>
  obj([[TAG, str(kind)], ...Object.entries(fields)])
const num = (n: number): Json =>
  Number.isNaN(n)
    ? marker('NaN')
    : n === Number.POSITIVE_INFINITY
      ? marker('Infinity')
      : n === Number.NEGATIVE_INFINITY
        ? marker('-Infinity')
        : Object.is(n, -0)
          ? marker('-0')
          : JSON.stringify(n)

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

/** Every character String.prototype.trim removes (and /\s/ matches). */
const WHITESPACE = [
  ' ',
  '\t',
  '\n',
  '\r',
  '\v',
  '\f',
  '\u00a0',
  '\u1680',
  '\u2000',
  '\u2001',
  '\u2002',
  '\u2003',
  '\u2004',
  '\u2005',
  '\u2006',
  '\u2007',
  '\u2008',
  '\u2009',
  '\u200a',
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000',
  '\ufeff',
]
/** RTL/bidi controls, zero-width characters (not whitespace for trim!), emoji, lone surrogates… */
const ODD = [
  '\u200e',
  '\u200f',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u061c',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\u180e',
  '\u00ad',
  '\u0000',
  '\u0007',
  '\u001b',
  '\u007f',
  '\ud800',
  '\udbff',
  '\udc00',
  '\udfff',
  '\ud83d',
  '\ude00',
  '\u0301',
  '\u0336',
  '\u20dd',
  '😀',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  '🇫🇷',
  '👍🏽',
  '\ufdfa',
  '\uff21\uff22',
  '\uff20',
  '\ufe6b',
  '\u0130',
  'ß',
  'ﬃ',
  '\ufffd',
  '\uffff',
  '\ufffe',
  '\u{10ffff}',
  '𝕏',
  'עברית',
  'العربية',
  '<script>',
  '"',
  '\\',
  '%00',
  `\${x}`,
  '{{x}}',
  'null',
  'undefined',
  'NaN',
  '__proto__',
  '\r\n',
]
const ASCII = ['a', 'Z', '0', '9', '.', '-', '_', '+', '@', "'", '/', '<', '>', '%', '{', '}', '[', ',']

const unit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ODD) },
  { weight: 2, arbitrary: fc.constantFrom(...WHITESPACE) },
  { weight: 3, arbitrary: fc.constantFrom(...ASCII) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
)
/** Short odd strings; never a valid-looking email (filtered), so they are safe anywhere. */
const oddString = fc.string({ unit, maxLength: 20 }).filter((s) => !looksLikeEmail(s))
/** Blank strings: trim() makes them empty. */
const blank = fc.string({ unit: fc.constantFrom(...WHITESPACE), maxLength: 8 })
/**
 * A huge string built in the page: `unit` repeated to `length` (≥ 64 Ki) characters, cut at the end
 * (which may split a surrogate pair). Never a valid-looking email: with no '@' in the unit there is
 * no '@', with one there are thousands.
 */
const hugeOf = (units: fc.Arbitrary<string>) =>
  fc
    .record({
      unit: units,
      length: fc.constantFrom(65_536, 100_000, 100_001, 262_144, 1_000_000),
    })
    .map(({ unit: u, length }) => marker('huge', { unit: str(u), length: String(length) }))
const huge = hugeOf(fc.string({ unit, minLength: 1, maxLength: 3 }))
const hugeBlank = hugeOf(fc.string({ unit: fc.constantFrom(...WHITESPACE), minLength: 1, maxLength: 2 }))
/** A 100k-character string sent literally over the wire (not built in the page). */
const hugeLiteral = fc
  .constantFrom('x', '\u202e', '😀', '\ud800', '\u200b', ' a')
  .map((u) => str(u.repeat(Math.ceil(100_000 / u.length)).slice(0, 100_000)))

// ---------------------------------------------------------------------------------------------
// Junk values
// ---------------------------------------------------------------------------------------------

const POLLUTED: Json = obj(POLLUTION_KEYS.map((k) => [k, k === 'polluted' ? str('yes') : 'true']))
/** Classic prototype-pollution payloads, as JSON a shop could receive. */
const pollution = fc.constantFrom<Json>(
  `{"__proto__":${POLLUTED}}`,
  `{"constructor":{"prototype":${POLLUTED}}}`,
  `{"__proto__":{"__proto__":${POLLUTED}}}`,
  `{"prototype":${POLLUTED}}`,
  `{"constructor":{"__proto__":${POLLUTED}}}`,
  `{"__proto__":{"constructor":{"prototype":${POLLUTED}}}}`,
  `[{"__proto__":${POLLUTED}}]`,
  `{"__proto__":[${POLLUTED}]}`,
  `{"__proto__":null}`,
  `{"__proto__":"not an object"}`,
  `{"constructor":"not a function","prototype":null,"toString":"not a function","valueOf":{}}`,
  `{"hasOwnProperty":1,"__defineGetter__":null,"__lookupGetter__":[],"isPrototypeOf":"x"}`,
)

/** Values JSON can't express, built in the page from markers. Not one is a finite number or a string. */
const NON_JSON_SPECIALS: readonly Json[] = [
  marker('undefined'),
  marker('NaN'),
  marker('Infinity'),
  marker('-Infinity'),
  marker('bigint', { digits: str('123456789012345678901234567890') }),
  marker('bigint', { digits: str('-1') }),
  marker('invalidDate'),
  marker('date', { time: '0' }),
  marker('boxedString', { value: str('order-1') }),
  marker('boxedNumber', { value: '42' }),
  marker('boxedBoolean'),
  marker('symbol'),
  marker('function'),
  marker('regexp'),
  marker('map'),
  marker('set'),
  marker('typed'),
  marker('error'),
  marker('sparse', { length: '100000' }),
  marker('sparse', { length: String(2 ** 32 - 1) }),
]
const specials = fc.constantFrom(...NON_JSON_SPECIALS, marker('-0'))

const leafOf = (withHuge: boolean) =>
  fc.oneof(
    { weight: 5, arbitrary: oddString.map(str) },
    { weight: 2, arbitrary: fc.double().map(num) },
    { weight: 1, arbitrary: fc.integer().map(String) },
    { weight: 1, arbitrary: fc.boolean().map(String) },
    { weight: 1, arbitrary: fc.constant('null') },
    { weight: 3, arbitrary: specials },
    { weight: withHuge ? 1 : 0, arbitrary: huge },
  )

const PROPERTY_KEYS = [
  'name',
  'first_name',
  'last_name',
  'surname',
  'firstName',
  'lastName',
  'total',
  'revenue',
  'shipping',
  'tax',
  'discount',
  'coupon',
  'currency',
  'checkout_id',
  'affiliation',
  'products',
  'sku',
  'product_id',
  'category',
  'url',
  'image_url',
  'brand',
  'gtin',
  'mpn',
  'price',
  'quantity',
]
const DANGEROUS_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'polluted',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '__lookupGetter__',
  'isPrototypeOf',
  'length',
  '0',
  '-1',
  'then',
  '',
  ' ',
]
/**
 * Keys of junk objects. Never `order_id` or `email` (those are only ever placed deliberately, see
 * below) and never the marker key.
 */
const junkKey = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...DANGEROUS_KEYS) },
    { weight: 2, arbitrary: fc.constantFrom(...PROPERTY_KEYS) },
    { weight: 2, arbitrary: oddString },
  )
  .filter((k) => k !== 'order_id' && k !== 'email' && k !== TAG)

function junkOf(withHuge: boolean, depths: readonly number[]) {
  const leaf = leafOf(withHuge)
  const deepLeaf = fc.oneof(leaf, pollution)
  const deep = fc
    .record({
      depth: fc.constantFrom(...depths),
      kind: fc.constantFrom('object', 'array', 'proto', 'mixed'),
      leaf: deepLeaf,
    })
    .map(({ depth, kind, leaf: l }) => marker('deep', { depth: String(depth), kind: str(kind), leaf: l }))
  return fc.letrec<{ junk: Json; array: Json; object: Json }>((tie) => ({
    junk: fc.oneof(
      { maxDepth: 3, depthIdentifier: 'junk' },
      { weight: 6, arbitrary: leaf },
      { weight: 2, arbitrary: tie('array') },
      { weight: 3, arbitrary: tie('object') },
      { weight: 1, arbitrary: pollution },
      { weight: 1, arbitrary: deep },
      { weight: 1, arbitrary: tie('object').map((value) => marker('frozen', { value })) },
      { weight: 1, arbitrary: tie('object').map((entries) => marker('nullProto', { entries })) },
    ),
    array: fc.array(tie('junk'), { maxLength: 4, depthIdentifier: 'junk' }).map(arr),
    object: fc.array(fc.tuple(junkKey, tie('junk')), { maxLength: 4, depthIdentifier: 'junk' }).map(obj),
  }))
}
const junk = junkOf(true, [64, 1_000, 5_000, 20_000])
/**
 * For identify traits: analytics-next keeps them in localStorage (JSON.stringify, a 5 MB quota), so
 * no 1M-character strings and no 20 000-level nesting: a failure there would be analytics-next's.
 */
const smallJunk = junkOf(false, [64, 1_000])

// ---------------------------------------------------------------------------------------------
// Order ids and emails
// ---------------------------------------------------------------------------------------------

/** Never a non-empty (after trim) string and never a finite number. */
const invalidOrderId: fc.Arbitrary<Json | undefined> = fc.oneof(
  fc.constant(undefined), // the key is left out
  fc.constant('null'),
  fc.constant(marker('undefined')),
  blank.map(str),
  hugeBlank,
  fc.boolean().map(String),
  fc.constantFrom(...NON_JSON_SPECIALS),
  junk.object,
  junk.array,
  pollution,
  fc.constant(marker('nullProto', { entries: obj([['order_id', str('o-1')]]) })),
  fc.constant(arr([str('order-1')])),
)
/** Anything, including order ids the plugin would accept. */
const anyOrderId: fc.Arbitrary<Json | undefined> = fc.oneof(
  invalidOrderId,
  oddString.filter((s) => s.trim() !== '').map(str),
  fc.constantFrom('o-1', '0', '-1', '1e21', '\u200b', '\u202eevil', '😀').map(str),
  huge,
  hugeLiteral,
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(num),
  fc.constantFrom(0, -1, 1e21, 1.5e300, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER + 2).map(num),
)

const word = fc.string({
  unit: fc.constantFrom('a', 'b', '.', '-', '+', 'é', '😀', '\u200b', '\ud800'),
  minLength: 1,
  maxLength: 6,
})
const space = fc.constantFrom(...WHITESPACE.filter((c) => c !== '\ufeff'))
/** Strings that are not a valid-looking address, and values that are not strings at all. */
const invalidEmailOf = (base: typeof junk, big: boolean): fc.Arbitrary<Json> =>
  fc.oneof(
    oddString.map(str),
    fc.constant(str('')),
    fc
      .oneof(
        fc.tuple(word, word, word).map(([a, b, c]) => `${a}@${b}@${c}`),
        word.map((b) => `@${b}`),
        word.map((a) => `${a}@`),
        fc.tuple(word, space, word).map(([a, s, b]) => `${a}${s}x@${b}`),
        fc.tuple(word, space, word).map(([a, s, b]) => `${a}@x${s}${b}`),
        fc.constantFrom(
          'a\uff20b.com',
          'a\ufe6bb.com',
          'user@exam ple.com',
          'user @example.com',
          '@',
          '@@',
          ' @ ',
          'a@b@c',
          'mailto:',
          '"a b"@c.d',
          'x@\u3000y',
          'x\u2028@y',
          'not-an-address',
          'buyer(at)example.com',
        ),
      )
      .filter((s) => !looksLikeEmail(s))
      .map(str),
    { weight: big ? 1 : 0, arbitrary: huge },
    { weight: big ? 1 : 0, arbitrary: hugeLiteral },
    fc.double().map(num),
    fc.boolean().map(String),
    fc.constant('null'),
    specials,
    base.object,
    base.array,
    pollution,
    fc.constant(arr([str('buyer(at)example.com')])),
  )
const invalidEmail = invalidEmailOf(junk, true)

/** Addresses the plugin would accept: only ever in events whose order id is invalid. */
const validEmail: fc.Arbitrary<Json> = fc
  .constantFrom(
    'buyer@example.com',
    '  padded@example.com\n',
    '\u200b@\u200b',
    'ü@ñ.example',
    'a@b',
    '😀@😀',
    '\ud800@\udc00x',
    '\u202emoc.elpmaxe@reyub',
  )
  .filter(looksLikeEmail)
  .map(str)

// ---------------------------------------------------------------------------------------------
// Events
//
// Why every event is invalid, by construction:
// - class A: `properties.order_id` is absent, or never a non-empty string (after trim) nor a finite
//   number (invalidOrderId). An order without an id can't become an invitation. Class A events may
//   carry valid-looking emails, so a plugin that checked the email alone would be caught.
// - class B: the order id is anything, but no valid-looking email is reachable anywhere: emails come
//   from invalidEmail, and every other string in the event (junk, keys aside) is filtered to not look
//   like an address; huge strings have no '@' or thousands of them. Identify traits follow the same
//   rule, so the user's stored traits never hold one either; that keeps class B invalid whatever the
//   order of sources the plugin reads, even through `__proto__` keys.
// - In both classes `order_id` and `email` keys are only placed deliberately (junk keys exclude them),
//   so a `__proto__` payload can't smuggle in a valid one.
// The page re-checks each parsed event against these rules before tracking it (a generator bug
// fails the test as such, not as a plugin bug).
// ---------------------------------------------------------------------------------------------

type Shape = 'properties' | 'context.traits' | 'options.traits' | 'event object'
interface FuzzEvent {
  cls: 'A' | 'B'
  shape: Shape
  /** JSON text of the properties (may be a marker, or not an object at all). */
  properties: Json
  /** Whether the properties are an object (analytics-next replaces anything else with {}). */
  plain: boolean
  /** JSON text of the traits passed in options (null for the 'properties' shape). */
  traits: Json | null
}

const products = fc.oneof(
  junk.junk,
  fc
    .array(
      fc.oneof(
        junk.junk,
        fc
          .array(
            fc.tuple(
              fc.constantFrom(
                'sku',
                'product_id',
                'name',
                'url',
                'image_url',
                'brand',
                'gtin',
                'mpn',
                'category',
                'price',
                'quantity',
                '__proto__',
                'constructor',
              ),
              junk.junk,
            ),
            { maxLength: 8 },
          )
          .map(obj),
      ),
      { maxLength: 6 },
    )
    .map(arr),
  fc.constantFrom(marker('sparse', { length: String(2 ** 32 - 1) }), marker('sparse', { length: '100000' })),
)

const fields = fc.array(fc.tuple(junkKey, junk.junk), { maxLength: 6 })

function propertiesOf(orderId: fc.Arbitrary<Json | undefined>, email: fc.Arbitrary<Json>) {
  const object = fc
    .record({
      orderId,
      email: fc.option(email, { nil: undefined }),
      products: fc.option(products, { nil: undefined }),
      fields,
    })
    .map(({ orderId: o, email: e, products: p, fields: f }) => {
      const entries: Array<readonly [string, Json]> = [...f]
      if (p !== undefined) entries.push(['products', p])
      if (o !== undefined) entries.splice(Math.min(1, entries.length), 0, ['order_id', o])
      if (e !== undefined) entries.push(['email', e])
      return obj(entries)
    })
  return fc.oneof(
    { weight: 8, arbitrary: object.map((text) => ({ text, plain: true })) },
    { weight: 1, arbitrary: object.map((entries) => ({ text: marker('nullProto', { entries }), plain: true })) },
    { weight: 1, arbitrary: object.map((value) => ({ text: marker('frozen', { value }), plain: true })) },
  )
}
/** Not an object: analytics-next replaces these with {}, so the order id is missing (class A). */
const nonObjectProperties = fc
  .oneof(
    fc.constantFrom('null', '[]', '0', 'true', str(''), str('order_id'), marker('undefined'), marker('NaN')),
    oddString.map(str),
    junk.array,
    huge,
  )
  .map((text) => ({ text, plain: false }))

function traitsOf(email: fc.Arbitrary<Json>, base: typeof junk) {
  const object = fc
    .record({
      email: fc.option(email, { nil: undefined }),
      fields: fc.array(fc.tuple(junkKey, base.junk), { maxLength: 6 }),
    })
    .map(({ email: e, fields: f }) => obj(e === undefined ? f : [...f, ['email', e]]))
  return fc.oneof(
    { weight: 6, arbitrary: object },
    { weight: 1, arbitrary: base.junk },
    { weight: 1, arbitrary: pollution },
  )
}

function eventsOf(cls: 'A' | 'B'): fc.Arbitrary<FuzzEvent> {
  const email = cls === 'A' ? fc.oneof(validEmail, invalidEmail) : invalidEmail
  const properties =
    cls === 'A'
      ? fc.oneof(
          { weight: 6, arbitrary: propertiesOf(invalidOrderId, email) },
          { weight: 1, arbitrary: nonObjectProperties },
        )
      : propertiesOf(anyOrderId, email)
  return fc
    .record({
      properties,
      traits: traitsOf(email, junk),
      shape: fc.constantFrom<Shape>('properties', 'context.traits', 'options.traits', 'event object'),
    })
    .map(({ properties: p, traits, shape }) => {
      // The event-object form validates its properties itself (analytics-next rejects a non-object):
      // that is analytics-next's contract, not the plugin's, so it only gets objects.
      const s: Shape = !p.plain && shape === 'event object' ? 'context.traits' : shape
      return { cls, shape: s, properties: p.text, plain: p.plain, traits: s === 'properties' ? null : traits }
    })
}

const fuzzEvent = fc.oneof(eventsOf('A'), eventsOf('B'))
/** identify() traits between batches: objects (analytics-next requires one), never a valid email. */
const identifyTraits = fc
  .record({
    email: fc.option(invalidEmailOf(smallJunk, false), { nil: undefined }),
    fields: fc.array(fc.tuple(junkKey, smallJunk.junk), { maxLength: 6 }),
    pollute: fc.option(
      fc.constantFrom<Array<[string, Json]>>([['__proto__', POLLUTED]], [['constructor', `{"prototype":${POLLUTED}}`]]),
      { nil: undefined },
    ),
  })
  .map(({ email, fields: f, pollute }) =>
    obj([...f, ...(pollute ?? []), ...(email === undefined ? [] : [['email', email] as const])]),
  )

// ---------------------------------------------------------------------------------------------
// In the page
// ---------------------------------------------------------------------------------------------

interface EventResult {
  index: number
  /** 'resolved', 'rejected: …' or 'timeout'. */
  status: string
  /** Error-level logs on the event's context, and the plugin's own "could not handle" logs. */
  errorLogs: string[]
  failedDelivery: boolean
  /** Outcomes emitted while this event was tracked (sequential batches only; null otherwise). */
  outcomes: Array<{ status: string; referenceId?: unknown; reason: unknown }> | null
  /** Empty when the parsed event matches the invalid-by-construction rules, else why not. */
  notInvalid: string
  /** Its outcome's reason quotes the event's email (reasons must never hold personal data). */
  quotesEmail: boolean
}

interface BatchResult {
  events: EventResult[]
  identify: { status: string; notInvalid: string } | null
  /** A valid-looking email found in analytics.user().traits() (a generator bug if not empty). */
  userTraits: string
}

/** Installed with addInitScript, so the rejection listener is there before any other script runs. */
function installFuzzHelpers(args: { tag: string; pollutionKeys: readonly string[] }) {
  const { tag, pollutionKeys } = args
  const w = window as any
  w.__fuzzRejections = [] as string[]
  addEventListener('unhandledrejection', (event) => {
    const reason = event.reason
    w.__fuzzRejections.push(String(reason?.stack || reason))
  })

  const EMAIL = /^[^\s@]+@[^\s@]+$/
  const looksLikeEmail = (value: unknown) => typeof value === 'string' && EMAIL.test(value.trim())

  const own = (o: object, key: PropertyKey, value: unknown) =>
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })

  function build(spec: any): unknown {
    switch (spec[tag]) {
      case 'undefined':
        return undefined
      case 'NaN':
        return Number.NaN
      case 'Infinity':
        return Number.POSITIVE_INFINITY
      case '-Infinity':
        return Number.NEGATIVE_INFINITY
      case '-0':
        return -0
      case 'bigint':
        return BigInt(spec.digits)
      case 'invalidDate':
        return new Date(Number.NaN)
      case 'date':
        return new Date(spec.time)
      case 'boxedString':
        return new String(spec.value)
      case 'boxedNumber':
        return new Number(spec.value)
      case 'boxedBoolean':
        return new Boolean(false)
      case 'symbol':
        return Symbol('fuzz')
      case 'function':
        return function fuzz() {
          return 'fuzz'
        }
      case 'regexp':
        return /fuzz/g
      case 'map':
        return new Map([['k', 'v']])
      case 'set':
        return new Set([1])
      case 'typed':
        return new Uint8Array([1, 2, 3])
      case 'error':
        return new Error('fuzz')
      case 'sparse': {
        const a = new Array(spec.length)
        a[spec.length - 1] = 'last'
        return a
      }
      case 'frozen':
        return Object.freeze(spec.value)
      case 'nullProto': {
        const o = Object.create(null)
        const entries = spec.entries && typeof spec.entries === 'object' ? spec.entries : {}
        for (const key of Reflect.ownKeys(entries)) own(o, key, entries[key])
        return o
      }
      case 'huge': {
        const u = String(spec.unit)
        return u.repeat(Math.ceil(spec.length / u.length)).slice(0, spec.length)
      }
      case 'deep': {
        let value: unknown = spec.leaf
        for (let i = 0; i < spec.depth; i++) {
          const kind = spec.kind === 'mixed' ? ['object', 'array', 'proto'][i % 3] : spec.kind
          if (kind === 'array') value = [value]
          else if (kind === 'proto') value = own({}, '__proto__', value)
          else value = { nested: value }
        }
        return value
      }
      default:
        throw new Error(`unknown marker ${String(spec[tag])}`)
    }
  }

  const parse = (text: string): unknown =>
    JSON.parse(text, (_key, value) =>
      value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, tag)
        ? build(value)
        : value,
    )

  /** A valid-looking email anywhere in a value (own keys only, iteratively: values may be deep). */
  function findEmail(root: unknown): string {
    const stack: unknown[] = [root]
    const seen = new Set<unknown>()
    while (stack.length) {
      const value = stack.pop()
      if (looksLikeEmail(value)) return JSON.stringify(value)
      if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue
      seen.add(value)
      if (value instanceof Map || value instanceof Set) for (const v of value.values()) stack.push(v)
      for (const key of Reflect.ownKeys(value as object)) {
        const d = Object.getOwnPropertyDescriptor(value, key)
        if (d && 'value' in d) stack.push(d.value)
      }
    }
    return ''
  }

  /** The page's own copy of the invalid-by-construction rule (see the spec's comment). */
  function whyNotInvalid(properties: unknown, traits: unknown): string {
    const orderId = properties !== null && typeof properties === 'object' ? (properties as any).order_id : undefined
    const validOrderId =
      (typeof orderId === 'string' && orderId.trim() !== '') ||
      (typeof orderId === 'number' && Number.isFinite(orderId))
    if (!validOrderId) return ''
    const inProperties = findEmail(properties)
    if (inProperties) return `valid order id and a valid-looking email in properties: ${inProperties.slice(0, 80)}`
    const inTraits = findEmail(traits)
    if (inTraits) return `valid order id and a valid-looking email in traits: ${inTraits.slice(0, 80)}`
    return ''
  }

  /** The email strings of an event long enough to be told apart in a reason (which must not quote them). */
  function emailsOf(properties: unknown, traits: unknown): string[] {
    const read = (o: unknown) => (o !== null && typeof o === 'object' ? (o as any).email : undefined)
    return [read(properties), read(traits)]
      .filter((e): e is string => typeof e === 'string')
      .map((e) => e.trim())
      .filter((e) => e.length >= 8 && e.includes('@'))
  }

  async function settle(call: () => Promise<unknown>, ms = 10_000) {
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      const result = await Promise.race([
        Promise.resolve().then(call),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve('timeout'), ms)
        }),
      ])
      return result === 'timeout' ? { status: 'timeout', ctx: undefined } : { status: 'resolved', ctx: result as any }
    } catch (error) {
      return { status: `rejected: ${String((error as any)?.stack ?? error)}`, ctx: undefined }
    } finally {
      clearTimeout(timer)
    }
  }

  function errorLogsOf(ctx: any): string[] {
    const logs: Array<{ level: string; message: string; extras?: any }> = ctx?.logs?.() ?? []
    return logs
      .filter((l) => l.level === 'error' || /Trustpilot: could not/.test(l.message))
      .map((l) => `${l.level} ${l.message} ${String(l.extras?.error?.stack ?? l.extras?.error ?? '')}`)
  }

  interface Spec {
    shape: string
    properties: string
    traits: string | null
  }

  w.__fuzz = {
    /** Own keys and their descriptors of the built-in prototypes, before the run. */
    baseline() {
      const protos: Record<string, object> = {
        'Object.prototype': Object.prototype,
        'Array.prototype': Array.prototype,
        'Function.prototype': Function.prototype,
        'String.prototype': String.prototype,
        'Number.prototype': Number.prototype,
        'Boolean.prototype': Boolean.prototype,
      }
      const snapshot = new Map<string, Map<string | symbol, PropertyDescriptor | undefined>>()
      for (const [name, proto] of Object.entries(protos)) {
        snapshot.set(name, new Map(Reflect.ownKeys(proto).map((k) => [k, Object.getOwnPropertyDescriptor(proto, k)])))
      }
      w.__fuzzBaseline = { protos, snapshot, parents: Object.values(protos).map((p) => Object.getPrototypeOf(p)) }
    },

    /** Everything that changed on the built-in prototypes, and probes that answer anything. */
    pollution(): string[] {
      const problems: string[] = []
      const { protos, snapshot, parents } = w.__fuzzBaseline
      Object.entries(protos as Record<string, object>).forEach(([name, proto], i) => {
        const before = snapshot.get(name) as Map<string | symbol, PropertyDescriptor | undefined>
        const keys = Reflect.ownKeys(proto)
        for (const key of keys) {
          if (!before.has(key)) problems.push(`${name} has a new own key ${String(key)}`)
          const was = before.get(key)
          const now = Object.getOwnPropertyDescriptor(proto, key)
          if (was && now && (was.value !== now.value || was.get !== now.get || was.set !== now.set)) {
            problems.push(`${name}.${String(key)} was replaced`)
          }
        }
        for (const key of before.keys()) if (!keys.includes(key)) problems.push(`${name} lost ${String(key)}`)
        if (Object.getPrototypeOf(proto) !== parents[i]) problems.push(`${name} has a new prototype`)
      })
      const targets: Array<[string, unknown]> = [
        ['({})', {}],
        ['[]', []],
        ['(() => {})', () => {}],
        ["''", ''],
        ['0', 0],
        ['false', false],
        ['Object.create(Object.prototype)', Object.create(Object.prototype)],
      ]
      const probes = targets.flatMap(([label, target]) =>
        [...pollutionKeys, 'email', 'order_id', 'nested'].map(
          (key) => [`${label}.${key}`, (Object(target) as any)[key]] as [string, unknown],
        ),
      )
      for (const [probe, value] of probes) if (value !== undefined) problems.push(`${probe} is ${String(value)}`)
      return problems
    },

    async runBatch(batch: { concurrent: boolean; identify: string | null; events: Spec[]; first: number }) {
      const a = w.analytics
      const result: BatchResult = { events: [], identify: null, userTraits: '' }
      if (batch.identify !== null) {
        const traits = parse(batch.identify)
        const email = findEmail(traits)
        const { status } = await settle(() => a.identify('fuzz-user', traits))
        result.identify = {
          status,
          notInvalid: email && `identify traits hold a valid-looking email: ${email.slice(0, 80)}`,
        }
      }
      const prepared = batch.events.map((spec, i) => {
        const properties = parse(spec.properties)
        const traits = spec.traits === null ? undefined : parse(spec.traits)
        const call = () => {
          switch (spec.shape) {
            case 'properties':
              return a.track('Order Completed', properties)
            case 'context.traits':
              return a.track('Order Completed', properties, { context: { traits } })
            case 'options.traits':
              return a.track('Order Completed', properties, { traits })
            default:
              return a.track({ event: 'Order Completed', properties }, { context: { traits } })
          }
        }
        return {
          index: batch.first + i,
          call,
          notInvalid: whyNotInvalid(properties, traits),
          emails: emailsOf(properties, traits),
        }
      })
      const finish = (
        p: (typeof prepared)[number],
        settled: { status: string; ctx: any },
        outcomes: EventResult['outcomes'],
      ) =>
        result.events.push({
          index: p.index,
          status: settled.status,
          errorLogs: errorLogsOf(settled.ctx),
          failedDelivery: !!settled.ctx?.failedDelivery?.(),
          outcomes,
          notInvalid: p.notInvalid,
          quotesEmail: (outcomes ?? []).some((o) => p.emails.some((e) => String(o.reason).includes(e))),
        })
      if (batch.concurrent) {
        console.debug(`${tag}:${batch.first}-${batch.first + prepared.length - 1}`)
        const settled = await Promise.all(prepared.map((p) => settle(p.call)))
        for (const [i, p] of prepared.entries()) finish(p, settled[i] as { status: string; ctx: any }, null)
      } else {
        for (const p of prepared) {
          // Tells the test which event is running, even if it then blocks the main thread.
          console.debug(`${tag}:${p.index}`)
          const before = w.outcomes.length
          const settled = await settle(p.call)
          finish(p, settled, w.outcomes.slice(before))
        }
      }
      result.userTraits = findEmail(a.user().traits())
      return result
    },
  }
}

const preview = (text: string | null, max: number) =>
  text === null ? 'none' : text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text
const describeEvent = (e: FuzzEvent) =>
  `class ${e.cls}, ${e.shape}, properties ${preview(e.properties, 240)}, traits ${preview(e.traits, 120)}`

/** How many events hold each kind of malformation (reported as an annotation of the test). */
function coverage(events: FuzzEvent[]) {
  const count = (test: (text: string, e: FuzzEvent) => boolean) =>
    events.filter((e) => test(e.properties + (e.traits ?? ''), e)).length
  const markerOf = (kind: string) => `fuzz":"${kind}"`
  return {
    events: events.length,
    'class A (invalid order id)': count((_, e) => e.cls === 'A'),
    'class B (no valid email anywhere)': count((_, e) => e.cls === 'B'),
    ...Object.fromEntries(
      (['properties', 'context.traits', 'options.traits', 'event object'] as const).map((shape) => [
        `shape ${shape}`,
        count((_, e) => e.shape === shape),
      ]),
    ),
    'huge strings (64k–1M chars)': count((t) => t.includes(markerOf('huge')) || t.length >= 100_000),
    'deep nesting (64–20000 levels)': count((t) => t.includes(markerOf('deep'))),
    '__proto__ keys': count((t) => t.includes('"__proto__":')),
    'constructor/prototype keys': count((t) => t.includes('"constructor":') || t.includes('"prototype":')),
    'lone surrogates': count((t) => /\\ud[89a-f][0-9a-f]{2}/i.test(t)),
    'bidi/zero-width chars': count((t) => /[\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\u061c\ufeff]/.test(t)),
    emoji: count((t) => /\p{Extended_Pictographic}/u.test(t)),
    'non-JSON values (NaN, BigInt, symbol, function…)': count((t) => t.includes('fuzz":')),
    nulls: count((t) => t.includes(':null') || t.startsWith('null')),
    'products key': count((t) => t.includes('"products":')),
    'properties not an object': count((_, e) => !e.plain),
  }
}

/** How long one batch may take (normally well under a second) before the page counts as hung. */
const BATCH_BUDGET_MS = 15_000

async function runBatch(
  page: Page,
  batch: { concurrent: boolean; identify: string | null; events: FuzzEvent[]; first: number },
  running: () => string,
) {
  const events = batch.events.map(({ shape, properties, traits }) => ({ shape, properties, traits }))
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `a batch did not finish within ${BATCH_BUDGET_MS} ms (main thread blocked?); running: ${running()}`,
          ),
        ),
      BATCH_BUDGET_MS,
    )
  })
  try {
    return await Promise.race([
      page.evaluate((b) => (window as any).__fuzz.runBatch(b) as Promise<BatchResult>, { ...batch, events }),
      hung,
    ])
  } finally {
    clearTimeout(timer)
  }
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

test(`fuzz: ${EVENTS} malformed Order Completed events send nothing, throw nothing, pollute nothing (seed ${SEED})`, async ({
  page,
  shop,
  trustpilotApi,
}) => {
  test.setTimeout(60_000)
  test.info().annotations.push({ type: 'fuzz seed', description: `${SEED} (rerun with FUZZ_SEED=${SEED})` })
  try {
    const events = fc.sample(fuzzEvent, { seed: SEED, numRuns: EVENTS })
    const identifies = fc.sample(identifyTraits, { seed: SEED + 1, numRuns: BATCHES })
    expect(events.length).toBeGreaterThanOrEqual(500)
    test.info().annotations.push({ type: 'fuzz coverage', description: JSON.stringify(coverage(events)) })

    let running = 'nothing yet'
    page.on('console', (message) => {
      const text = message.text()
      if (message.type() !== 'debug' || !text.startsWith(`${TAG}:`)) return
      const [from, to] = text
        .slice(TAG.length + 1)
        .split('-')
        .map(Number) as [number, number | undefined]
      running =
        to === undefined
          ? `event #${from} (${describeEvent(events[from] as FuzzEvent)})`
          : `the concurrent batch of events #${from}–${to}`
    })
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.stack ?? error.message))
    const responses: Array<{ method: string; status: number }> = []
    page.on('response', (response) => {
      if (response.url().startsWith(`${trustpilotApi.url}/`) && response.request().method() !== 'OPTIONS') {
        responses.push({ method: response.request().method(), status: response.status() })
      }
    })
    await page.addInitScript(installFuzzHelpers, { tag: TAG, pollutionKeys: POLLUTION_KEYS })
    await shop.open({ via: 'module', settings: { apiKey: 'fuzz-key' } })
    await page.evaluate(() => (window as any).__fuzz.baseline())

    const results: EventResult[] = []
    const problems: string[] = []
    for (let b = 0; b < BATCHES; b++) {
      const first = b * BATCH_SIZE
      // Two batches in three: one event at a time, so each outcome is tied to its event; the third
      // fires the whole batch at once, to also run the plugin with many events in flight.
      const batch = {
        concurrent: b % 3 === 2,
        identify: identifies[b] ?? null,
        events: events.slice(first, first + BATCH_SIZE),
        first,
      }
      const result = await runBatch(page, batch, () => running)
      results.push(...result.events)
      if (result.identify?.status !== 'resolved')
        problems.push(`identify before batch ${b}: ${result.identify?.status}`)
      if (result.identify?.notInvalid) problems.push(`generator bug: ${result.identify.notInvalid}`)
      if (result.userTraits) problems.push(`generator bug: user traits hold ${result.userTraits}`)
    }
    expect(results).toHaveLength(EVENTS)

    for (const r of results) {
      const event = events[r.index] as FuzzEvent
      const at = `event #${r.index} (${describeEvent(event)})`
      if (r.notInvalid) problems.push(`generator bug, ${at}: ${r.notInvalid}`)
      // (1) no exception escapes: every call resolves, and no plugin error is logged on its context.
      if (r.status !== 'resolved') problems.push(`${at}: analytics.track ${r.status}`)
      for (const log of r.errorLogs) problems.push(`${at}: logged ${log}`)
      if (r.failedDelivery) problems.push(`${at}: failedDelivery() is set`)
      // Every event is skipped with a reason, right when it is tracked.
      if (r.quotesEmail) problems.push(`${at}: the skip reason quotes the email address`)
      if (r.outcomes !== null) {
        const [outcome, ...more] = r.outcomes
        if (!outcome || more.length) problems.push(`${at}: ${r.outcomes.length} outcomes, expected one skipped`)
        else if (outcome.status !== 'skipped' || typeof outcome.reason !== 'string' || !outcome.reason.trim()) {
          problems.push(`${at}: outcome ${JSON.stringify(outcome)}`)
        }
      }
    }
    expect(problems, `seed ${SEED}`).toEqual([])

    expect(pageErrors, 'page errors').toEqual([])
    expect(await page.evaluate(() => (window as any).__fuzzRejections), 'unhandled rejections').toEqual([])
    expect(await shop.errors(), "analytics 'error' events").toEqual([])

    // (2) nothing was sent, nothing was stored for later.
    expect(trustpilotApi.requests, 'requests for invalid events').toEqual([])
    expect(
      await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('analytics-plugin-trustpilot:'))),
      'outbox entries',
    ).toEqual([])

    // Every event was skipped with a non-empty reason (and, checked per event above, one that
    // never quotes the address).
    const outcomes = await shop.outcomes()
    const skipped = outcomes.filter((o) => o.status === 'skipped')
    expect(outcomes.filter((o) => o.status !== 'skipped')).toEqual([])
    expect(skipped).toHaveLength(EVENTS)
    for (const o of skipped)
      expect(typeof o.reason === 'string' && o.reason.trim().length > 0, JSON.stringify(o)).toBe(true)

    // (3) no prototype is polluted.
    expect(await page.evaluate(() => (window as any).__fuzz.pollution()), 'prototype pollution').toEqual([])

    // (4) the other destination received every event.
    const received = await shop.received()
    expect(received.filter((r) => r.type === 'track' && r.event === ORDER_COMPLETED)).toHaveLength(EVENTS)
    expect(received.filter((r) => r.type === 'identify')).toHaveLength(BATCHES)
    expect(received).toHaveLength(EVENTS + BATCHES)

    // The harness does see requests: a valid order tracked last is delivered (202, then 201 with
    // the products) and is all Trustpilot ever received, so nothing before it was sent.
    await shop.track(ORDER_COMPLETED, { order_id: 'fuzz-sentinel', email: 'sentinel@example.com' })
    await shop.waitForOutcome('sent', 'fuzz-sentinel')
    await expect.poll(() => responses.length).toBe(2)
    expect(trustpilotApi.requests.map((r) => r.body.referenceId)).toEqual(['fuzz-sentinel', 'fuzz-sentinel'])
    expect(trustpilotApi.requests.map((r) => r.apiKey)).toEqual(['fuzz-key', 'fuzz-key'])
    expect(trustpilotApi.requests.map((r) => r.body.recipientEmail)).toEqual([
      'sentinel@example.com',
      'sentinel@example.com',
    ])
    expect(trustpilotApi.requests.map((r) => 'products' in r.body)).toEqual([false, true])
    expect(responses).toEqual([
      { method: 'POST', status: 202 },
      { method: 'POST', status: 201 },
    ])
    expect((await shop.received()).filter((r) => r.event === ORDER_COMPLETED)).toHaveLength(EVENTS + 1)
    expect(pageErrors, 'page errors').toEqual([])
    expect(await page.evaluate(() => (window as any).__fuzzRejections), 'unhandled rejections').toEqual([])
  } catch (error) {
    const note = `[fuzz seed ${SEED}; rerun with FUZZ_SEED=${SEED} npx playwright test e2e/fuzz.spec.ts]`
    console.error(note)
    if (error instanceof Error) error.message = `${note}\n${error.message}`
    throw error
  }
})
