import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { mapOrder, withProducts } from '../src/mapping'
import { resolveSettings } from '../src/settings'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from './support/fixtures'

const settings = resolveSettings({ apiKey: API_KEY })
const order = (properties: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Order Completed',
  properties,
  ...extra,
})
const map = (event: unknown, traits: unknown = {}, s = settings) => mapOrder(event, traits, s)
const invitationOf = (event: unknown, traits?: unknown, s = settings) => {
  const result = map(event, traits, s)
  if (!('invitation' in result)) throw new Error(`expected an invitation, got skip: ${result.skip}`)
  return result.invitation
}
const skipOf = (event: unknown, traits?: unknown, s = settings) => {
  const result = map(event, traits, s)
  if (!('skip' in result)) throw new Error('expected a skip')
  return result.skip
}

describe('mapping the seed example', () => {
  test('first request body is exactly the seed expectation', () => {
    assert.deepEqual(invitationOf(order(SEED_PROPERTIES)).body, SEED_FIRST_BODY)
  })
  test('second request body carries products and de-duplicated skus', () => {
    assert.deepEqual(withProducts(invitationOf(order(SEED_PROPERTIES))), SEED_SECOND_BODY)
  })
})

describe('which events are considered', () => {
  const cases: Array<[string, unknown]> = [
    ['another track event', { type: 'track', event: 'Product Viewed', properties: SEED_PROPERTIES }],
    ['a page call', { type: 'page', properties: SEED_PROPERTIES }],
    ['an identify call', { type: 'identify', traits: { email: 'a@b.c' } }],
    ['a differently cased name', { type: 'track', event: 'order completed', properties: SEED_PROPERTIES }],
    ['not an object', 'Order Completed'],
    ['null', null],
  ]
  for (const [name, event] of cases) {
    test(`${name} is skipped`, () => assert.match(skipOf(event), /not an Order Completed/))
  }
})

describe('order_id', () => {
  const valid: Array<[unknown, string]> = [
    ['abc', 'abc'],
    ['  abc  ', 'abc'],
    [12345, '12345'],
    [0, '0'],
    [12.5, '12.5'],
    [1e21, '1000000000000000000000'],
  ]
  for (const [orderId, expected] of valid) {
    test(`${JSON.stringify(orderId)} becomes referenceId ${expected}`, () => {
      const body = invitationOf(order({ order_id: orderId, email: 'a@b.co' })).body
      assert.equal(body.referenceId, expected)
    })
  }
  const invalid: Array<[string, unknown, RegExp]> = [
    ['missing', undefined, /properties\.order_id is missing/],
    ['null', null, /properties\.order_id is missing/],
    ['empty', '   ', /properties\.order_id must be a non-empty string or a finite number/],
    ['NaN', Number.NaN, /properties\.order_id must be a non-empty string or a finite number/],
    ['Infinity', Number.POSITIVE_INFINITY, /properties\.order_id must be a non-empty string or a finite number/],
    ['an object', { id: 1 }, /properties\.order_id must be a non-empty string or a finite number/],
    ['an array', ['1'], /properties\.order_id must be a non-empty string or a finite number/],
    ['too long', 'x'.repeat(256), /properties\.order_id is longer than 255/],
  ]
  for (const [name, orderId, reason] of invalid) {
    test(`${name} is skipped with a reason naming the field`, () => {
      assert.match(skipOf(order({ order_id: orderId, email: 'a@b.co' })), reason)
    })
  }
})

describe('email', () => {
  const base = { order_id: 'o1' }
  test('properties.email wins over traits', () => {
    const event = order({ ...base, email: 'p@x.io' }, { context: { traits: { email: 'c@x.io' } } })
    assert.equal(invitationOf(event, { email: 'u@x.io' }).body.recipientEmail, 'p@x.io')
  })
  test('context.traits.email is next', () => {
    const event = order(base, { context: { traits: { email: 'c@x.io' } } })
    assert.equal(invitationOf(event, { email: 'u@x.io' }).body.recipientEmail, 'c@x.io')
  })
  test("then the user's stored traits", () => {
    assert.equal(invitationOf(order(base), { email: 'u@x.io' }).body.recipientEmail, 'u@x.io')
  })
  test('is trimmed', () => {
    assert.equal(invitationOf(order({ ...base, email: '  p@x.io \n' })).body.recipientEmail, 'p@x.io')
  })
  const invalid: Array<[string, unknown, RegExp]> = [
    ['no @', 'test.example.com', /properties\.email is not an email address/],
    ['two @', 'a@b@c', /properties\.email is not an email address/],
    ['inner space', 'te st@example.com', /properties\.email is not an email address/],
    ['nothing before @', '@example.com', /properties\.email is not an email address/],
    ['nothing after @', 'test@', /properties\.email is not an email address/],
    ['a number', 42, /properties\.email is not an email address/],
    ['an object', { a: 1 }, /properties\.email is not an email address/],
    ['too long', `${'a'.repeat(250)}@x.io`, /properties\.email is not an email address \(.*at most 254 characters\)/],
  ]
  for (const [name, email, reason] of invalid) {
    test(`${name} is skipped with a reason naming the field`, () => {
      const skip = skipOf(order({ ...base, email }))
      assert.match(skip, reason)
      if (typeof email === 'string') assert.ok(!skip.includes(email), 'the reason must not quote the email')
    })
  }
  test('missing everywhere is skipped with a reason', () => {
    assert.match(skipOf(order(base)), /no email in properties\.email, context\.traits\.email or the user's traits/)
  })
  test('an empty or null properties.email falls back to the traits', () => {
    for (const empty of ['', null]) {
      assert.equal(invitationOf(order({ ...base, email: empty }), { email: 'u@x.io' }).body.recipientEmail, 'u@x.io')
      const event = order({ ...base, email: empty }, { context: { traits: { email: 'c@x.io' } } })
      assert.equal(invitationOf(event, { email: 'u@x.io' }).body.recipientEmail, 'c@x.io')
      const emptyContext = order(base, { context: { traits: { email: empty } } })
      assert.equal(invitationOf(emptyContext, { email: 'u@x.io' }).body.recipientEmail, 'u@x.io')
    }
  })
  test('an invalid properties.email does not fall back to traits', () => {
    assert.match(skipOf(order({ ...base, email: 'nope' }), { email: 'u@x.io' }), /properties\.email/)
  })
})

describe('recipientName', () => {
  const cases: Array<[string, Record<string, unknown>, unknown, string | undefined]> = [
    ['name + surname', { name: 'John', surname: 'Johnson' }, {}, 'John Johnson'],
    ['name + last_name', { name: 'John', last_name: 'Doe' }, {}, 'John Doe'],
    ['first_name + last_name', { first_name: 'Ann', last_name: 'Lee' }, {}, 'Ann Lee'],
    ['name only', { name: ' John ' }, {}, 'John'],
    ['traits name is the full name', {}, { name: 'Peter Gibbons', lastName: 'Gibbons' }, 'Peter Gibbons'],
    ['traits firstName/lastName', {}, { firstName: 'Peter', lastName: 'Gibbons' }, 'Peter Gibbons'],
    ['traits first_name/last_name', {}, { first_name: 'Pe', last_name: 'G' }, 'Pe G'],
    ['none', {}, {}, undefined],
    ['last_name alone', { last_name: 'Lee' }, {}, 'Lee'],
    ['surname without name is not a name', { surname: 'Johnson' }, {}, undefined],
    ['non-string names are ignored', { name: { x: 1 }, surname: null }, {}, undefined],
  ]
  for (const [name, props, traits, expected] of cases) {
    test(name, () => {
      const body = invitationOf(order({ order_id: 'o', email: 'a@b.co', ...props }), traits).body
      assert.equal(body.recipientName, expected)
      if (expected === undefined) assert.ok(!('recipientName' in body), 'absent, not undefined')
    })
  }
})

describe('products', () => {
  const productsOf = (products: unknown) => invitationOf(order({ order_id: 'o', email: 'a@b.co', products }))
  test('not an array gives none', () => {
    assert.deepEqual(productsOf('junk').products, [])
    assert.deepEqual(productsOf({ 0: { sku: 'a' } }).products, [])
  })
  test('non-objects are dropped', () => {
    assert.deepEqual(productsOf([null, 1, 'x', [], { sku: 'a' }]).products, [{ sku: 'a' }])
  })
  test('sku falls back to product_id; absent fields are left out', () => {
    assert.deepEqual(productsOf([{ product_id: 'p1', gtin: 123, mpn: 'm', brand: 'b' }]).products, [
      { sku: 'p1', productId: 'p1', brand: 'b', gtin: '123', mpn: 'm' },
    ])
  })
  test('at most 100 products, and a huge sparse array costs nothing', () => {
    const many = Array.from({ length: 150 }, (_, i) => ({ sku: `s${i}` }))
    assert.equal(productsOf(many).products.length, 100)
    const sparse: unknown[] = []
    sparse[2 ** 32 - 2] = { sku: 'far' }
    assert.deepEqual(productsOf(sparse).products, [])
  })
  test("price is the product's finite number; currency is the order's, on every product", () => {
    const invitation = invitationOf(
      order({
        order_id: 'o',
        email: 'a@b.co',
        currency: ' EUR ',
        products: [{ sku: 'a', price: 9.5 }, { sku: 'b', price: 0 }, { sku: 'c', price: '12' }, { sku: 'd' }],
      }),
    )
    assert.deepEqual(invitation.products, [
      { sku: 'a', price: 9.5, currency: 'EUR' },
      { sku: 'b', price: 0, currency: 'EUR' },
      { sku: 'c', currency: 'EUR' },
      { sku: 'd', currency: 'EUR' },
    ])
  })
  test("each product's currency is the body's: one read of properties.currency, by one rule", () => {
    for (const currency of ['EUR', ' EUR ', 978, '', '  ', null, ['EUR'], { code: 'EUR' }]) {
      const invitation = invitationOf(
        order({ order_id: 'o', email: 'a@b.co', currency, products: [{ sku: 'a' }, { sku: 'b' }] }),
      )
      const label = `currency ${JSON.stringify(currency)}`
      for (const product of invitation.products) assert.equal(product.currency, invitation.body.currency, label)
      // 978 is ISO 4217's number for EUR, not its code: neither the body nor a product sends it.
      if (currency === 978) assert.ok(!('currency' in (invitation.products[0] ?? {})), label)
    }
  })
  test('no currency on the order, or a price that is not a finite number: left out', () => {
    const prices = [Number.NaN, Number.POSITIVE_INFINITY, null, '5', { amount: 5 }]
    assert.deepEqual(
      productsOf(prices.map((price) => ({ sku: 's', price }))).products,
      prices.map(() => ({ sku: 's' })),
    )
  })
  test('productSkus drop empty and duplicate skus', () => {
    const invitation = productsOf([{ sku: 'a' }, { sku: '' }, { sku: 'a' }, { sku: 'b' }, {}])
    assert.deepEqual(invitation.productSkus, ['a', 'b'])
  })
})

describe("totalCost and currency, in both requests, as Trustpilot's shop integrations send them", () => {
  const minimal = { order_id: 'o-1', email: 'a@b.co' }
  const sent = (properties: Record<string, unknown>) => {
    const invitation = invitationOf(order({ ...minimal, ...properties }))
    const second = withProducts(invitation)
    // Both requests carry the same two fields: the second is the first with products added.
    assert.deepEqual([second.totalCost, second.currency], [invitation.body.totalCost, invitation.body.currency])
    return {
      totalCost: invitation.body.totalCost,
      currency: invitation.body.currency,
      keys: Object.keys(invitation.body),
    }
  }
  test('totalCost is properties.total when it is a finite number', () => {
    assert.equal(sent({ total: 27.5, revenue: 25 }).totalCost, 27.5)
    assert.equal(sent({ total: 0, revenue: 25 }).totalCost, 0)
    assert.equal(sent({ total: -3 }).totalCost, -3)
  })
  test('else properties.revenue when that is', () => {
    for (const total of [undefined, null, '27.5', Number.NaN, Number.POSITIVE_INFINITY, {}]) {
      assert.equal(sent({ total, revenue: 25 }).totalCost, 25, `total ${String(total)}`)
    }
    assert.equal(sent({ revenue: 0 }).totalCost, 0)
  })
  test('else left out, never null', () => {
    for (const revenue of [undefined, null, '25', Number.NaN]) {
      assert.ok(!sent({ total: 'x', revenue }).keys.includes('totalCost'), `revenue ${String(revenue)}`)
    }
  })
  test('currency is properties.currency when it is a non-empty string; else left out', () => {
    assert.equal(sent({ currency: 'EUR' }).currency, 'EUR')
    assert.equal(sent({ currency: ' SEK ' }).currency, 'SEK')
    for (const currency of [undefined, null, '', '  ', 978, ['EUR']]) {
      assert.ok(!sent({ currency }).keys.includes('currency'), `currency ${JSON.stringify(currency)}`)
    }
  })
})

describe('settings reach the body', () => {
  test('source, templateId, locale and tags', () => {
    const s = resolveSettings({ apiKey: 'k', source: 'Shop', templateId: 't1', locale: 'da-DK', tags: ['a', 'b'] })
    assert.deepEqual(invitationOf(order({ order_id: 'o', email: 'a@b.co' }), {}, s).body, {
      recipientEmail: 'a@b.co',
      referenceId: 'o',
      source: 'Shop',
      templateId: 't1',
      locale: 'da-DK',
      tags: ['a', 'b'],
    })
  })
})

describe('per-order options: integrations.Trustpilot on the event', () => {
  const s = resolveSettings({ apiKey: 'k', templateId: 't1', locale: 'da-DK', tags: ['a'] })
  const withOptions = (options: unknown) =>
    order({ order_id: 'o', email: 'a@b.co' }, { integrations: { 'Segment.io': false, Trustpilot: options } })
  test('templateId, locale and tags override the settings for this invitation only', () => {
    const body = invitationOf(withOptions({ templateId: 't2', locale: 'sv-SE', tags: ['vip'] }), {}, s).body
    assert.deepEqual([body.templateId, body.locale, body.tags], ['t2', 'sv-SE', ['vip']])
    const next = invitationOf(order({ order_id: 'p', email: 'a@b.co' }), {}, s).body
    assert.deepEqual([next.templateId, next.locale, next.tags], ['t1', 'da-DK', ['a']])
  })
  test('a field left out, null or empty keeps the setting; other keys and `true` are ignored', () => {
    for (const options of [{ locale: 'sv-SE' }, { locale: 'sv-SE', templateId: null, tags: '' }]) {
      const body = invitationOf(withOptions({ ...options, apiKey: 'other', source: 'x' }), {}, s).body
      assert.deepEqual(
        [body.templateId, body.locale, body.tags, body.source],
        ['t1', 'sv-SE', ['a'], 'InvitationScript'],
      )
    }
    assert.equal(invitationOf(withOptions(true), {}, s).body.locale, 'da-DK')
  })
  test('options without settings', () => {
    const body = invitationOf(withOptions({ templateId: 't9' })).body
    assert.equal(body.templateId, 't9')
    assert.equal('locale' in body, false)
  })
  const bad: Array<[string, unknown, string]> = [
    ['templateId', 5, 'integrations.Trustpilot.templateId must be a string'],
    ['locale', ['en'], 'integrations.Trustpilot.locale must be a string'],
    ['tags', 'vip', 'integrations.Trustpilot.tags must be an array of non-empty strings'],
    ['tags', ['vip', ''], 'integrations.Trustpilot.tags must be an array of non-empty strings'],
  ]
  for (const [field, value, reason] of bad) {
    test(`${field}: ${JSON.stringify(value)} skips the order, naming integrations.Trustpilot.${field}`, () => {
      assert.deepEqual(map(withOptions({ [field]: value }), {}, s), { skip: reason, referenceId: 'o' })
    })
  }
})

describe('recipientName from the event context', () => {
  test("context.traits come before the user's stored traits", () => {
    const event = order({ order_id: 'o', email: 'a@b.co' }, { context: { traits: { name: 'Ctx Name' } } })
    assert.equal(invitationOf(event, { name: 'User Name' }).body.recipientName, 'Ctx Name')
    const bare = order({ order_id: 'o', email: 'a@b.co' }, { context: { traits: {} } })
    assert.equal(invitationOf(bare, { name: 'User Name' }).body.recipientName, 'User Name')
  })
  test('order properties come before any traits', () => {
    const event = order({ order_id: 'o', email: 'a@b.co', name: 'Prop' }, { context: { traits: { name: 'Ctx' } } })
    assert.equal(invitationOf(event, { name: 'User' }).body.recipientName, 'Prop')
  })
})

describe('consent and audiences', () => {
  const s = resolveSettings({ apiKey: 'k', consentCategories: ['Marketing', 'Analytics'] })
  const withConsent = (preferences: unknown) =>
    order({ order_id: 'o', email: 'a@b.co' }, { context: { consent: { categoryPreferences: preferences } } })
  test('all categories granted: sent', () => {
    assert.equal(
      invitationOf(withConsent({ Marketing: true, Analytics: true, Other: false }), {}, s).body.referenceId,
      'o',
    )
  })
  test('granted must be exactly true; several missing are all named', () => {
    assert.equal(
      skipOf(withConsent({ Marketing: 'yes', Analytics: 1 }), {}, s),
      'consent not granted for: Marketing, Analytics',
    )
    assert.equal(
      skipOf(withConsent(['Marketing']), {}, s),
      'no consent stamp (context.consent.categoryPreferences); consentCategories requires one',
    )
  })
  test('one category denied: skipped, naming it', () => {
    assert.match(
      skipOf(withConsent({ Marketing: true, Analytics: false }), {}, s),
      /consent not granted for: Analytics/,
    )
  })
  test('no stamp: skipped', () => {
    assert.match(skipOf(order({ order_id: 'o', email: 'a@b.co' }), {}, s), /no consent stamp/)
  })
  test('no consentCategories setting: no check', () => {
    assert.equal(invitationOf(order({ order_id: 'o', email: 'a@b.co' })).body.referenceId, 'o')
  })
  const a = resolveSettings({ apiKey: 'k', excludeAudiences: ['recent_complainers'] })
  test('a user in an excluded audience is skipped', () => {
    assert.match(
      skipOf(order({ order_id: 'o', email: 'a@b.co' }), { recent_complainers: true }, a),
      /excluded audience "recent_complainers"/,
    )
  })
  test('an audience key that is false or truthy-but-not-true does not exclude', () => {
    for (const value of [false, 'yes']) {
      assert.ok('invitation' in map(order({ order_id: 'o', email: 'a@b.co' }), { recent_complainers: value }, a))
    }
  })
  test("an audience on the event's context.traits excludes too", () => {
    const event = order({ order_id: 'o', email: 'a@b.co' }, { context: { traits: { recent_complainers: true } } })
    assert.deepEqual(map(event, {}, a), {
      skip: 'the user is in the excluded audience "recent_complainers"',
      referenceId: 'o',
    })
  })
})
