/**
 * The fast-check arbitraries of e2e/fuzz.spec.ts: malformed `Order Completed` events (and identify
 * traits), each invalid by construction (see "Why every event is invalid" below).
 *
 * How the values reach the page: each value is written as JSON text on the Node side and parsed in
 * the page with `JSON.parse`, so `__proto__`, `constructor` and `prototype` keys become own
 * properties (as they do in any JSON a shop receives). What JSON can't carry (NaN, ±Infinity, -0,
 * undefined, BigInt, symbols, functions, boxed primitives, null-prototype objects, frozen objects,
 * sparse arrays, huge strings, deep nesting…) is written as a marker object `{"\u0000fuzz": kind}`
 * that the reviver (e2e/fuzz/in-page.ts) turns into the real value in the page.
 */

import fc from 'fast-check'

/** The key of marker objects; no generated key is ever equal to it. */
export const TAG = '\u0000fuzz'
/** Keys that a prototype-pollution payload tries to plant on Object.prototype and friends. */
export const POLLUTION_KEYS = ['polluted', 'fuzzPolluted', 'isAdmin'] as const

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
// The page re-checks each parsed event against these rules before tracking it (whyNotInvalid in
// e2e/fuzz/in-page.ts: a generator bug fails the test as such, not as a plugin bug).
// ---------------------------------------------------------------------------------------------

type Shape = 'properties' | 'context.traits' | 'options.traits' | 'event object'
export interface FuzzEvent {
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

export const fuzzEvent = fc.oneof(eventsOf('A'), eventsOf('B'))
/** identify() traits between batches: objects (analytics-next requires one), never a valid email. */
export const identifyTraits = fc
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
// Describing generated events (in failure messages, and the test's coverage annotation)
// ---------------------------------------------------------------------------------------------

const preview = (text: string | null, max: number) =>
  text === null ? 'none' : text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text
export const describeEvent = (e: FuzzEvent) =>
  `class ${e.cls}, ${e.shape}, properties ${preview(e.properties, 240)}, traits ${preview(e.traits, 120)}`

/** How many events hold each kind of malformation (reported as an annotation of the test). */
export function coverage(events: FuzzEvent[]) {
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
