import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { TrustpilotSettings } from '../src/index'
import { resolveSettings } from '../src/settings'

const resolve = (s: unknown) => resolveSettings(s as TrustpilotSettings)

describe('settings', () => {
  test('defaults', () => {
    const s = resolve({ apiKey: ' key ' })
    assert.equal(s.apiKey, 'key')
    assert.equal(s.endpoint, 'https://invitejs.trustpilot.com')
    assert.equal(s.source, 'InvitationScript')
    assert.equal(s.debug, false)
    assert.equal(s.timeoutMs, 10_000)
    assert.equal(s.maxAttempts, 10)
    assert.equal(s.maxAgeHours, 72)
    assert.equal(s.transport, 'api')
    assert.equal(s.trackOutcomes, false)
    assert.equal(s.dryRun, false)
    assert.equal(s.consentCategories, undefined)
    assert.deepEqual(s.excludeAudiences, [])
  })

  const missingKey: unknown[] = [undefined, null, {}, { apiKey: '' }, { apiKey: '  ' }, { apiKey: 42 }]
  for (const input of missingKey) {
    test(`apiKey ${JSON.stringify(input)} throws naming apiKey`, () => {
      assert.throws(() => resolve(input), { name: 'TypeError', message: /"apiKey"/ })
    })
  }

  const endpoints: Array<[string, string]> = [
    ['https://invitejs.trustpilot.com/', 'https://invitejs.trustpilot.com'],
    ['https://proxy.example.com/tp/', 'https://proxy.example.com/tp'],
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://127.9.9.9', 'http://127.9.9.9'],
    ['http://localhost:3000', 'http://localhost:3000'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
  ]
  for (const [input, expected] of endpoints) {
    test(`endpoint ${input} is accepted`, () =>
      assert.equal(resolve({ apiKey: 'k', endpoint: input }).endpoint, expected))
  }
  const badEndpoints = [
    'http://example.com',
    'http://192.168.1.10',
    'http://localhost.example.com',
    'ftp://127.0.0.1',
    'javascript:alert(1)',
    'not a url',
    '',
    'https://example.com/?x=1',
  ]
  for (const input of badEndpoints) {
    test(`endpoint ${JSON.stringify(input)} throws naming endpoint`, () => {
      assert.throws(() => resolve({ apiKey: 'k', endpoint: input }), { name: 'TypeError', message: /"endpoint"/ })
    })
  }

  const badValues: Array<[string, unknown]> = [
    ['debug', 'yes'],
    ['timeoutMs', 0],
    ['timeoutMs', '100'],
    ['maxAttempts', -1],
    ['maxAgeHours', Number.NaN],
    ['consentCategories', 'Marketing'],
    ['consentCategories', [1]],
    ['excludeAudiences', ['']],
    ['tags', 'a'],
    ['templateId', 5],
    ['locale', {}],
    ['source', 1],
    ['transport', 'beacon'],
    ['trackOutcomes', 'true'],
    ['trackOutcomes', 1],
    ['dryRun', 'false'],
    ['dryRun', 0],
  ]
  for (const [name, value] of badValues) {
    test(`${name} = ${JSON.stringify(value)} throws naming ${name}`, () => {
      if (name === 'trackOutcomes' || name === 'dryRun') {
        assert.throws(() => resolve({ apiKey: 'k', [name]: value }), {
          message: `Trustpilot: setting "${name}" must be true or false`,
        })
      }
      assert.throws(() => resolve({ apiKey: 'k', [name]: value }), {
        name: 'TypeError',
        message: new RegExp(`"${name}"`),
      })
    })
  }

  test("null or '' takes the default, as JSON settings carry an emptied field", () => {
    for (const empty of [null, '']) {
      const s = resolve({
        apiKey: 'k',
        source: empty,
        debug: empty,
        timeoutMs: empty,
        maxAttempts: empty,
        maxAgeHours: empty,
        transport: empty,
        tags: empty,
        templateId: empty,
        consentCategories: empty,
        excludeAudiences: empty,
        trackOutcomes: empty,
      })
      assert.equal(s.trackOutcomes, false)
      assert.deepEqual(
        [s.source, s.debug, s.timeoutMs, s.maxAttempts, s.maxAgeHours, s.transport, s.tags, s.templateId],
        ['InvitationScript', false, 10_000, 10, 72, 'api', undefined, undefined],
      )
      assert.equal(s.consentCategories, undefined)
      assert.deepEqual(s.excludeAudiences, [])
    }
  })

  test('values as given: numbers, lists, transport', () => {
    const s = resolve({
      apiKey: 'k',
      source: 'Shop',
      debug: true,
      timeoutMs: 2_500,
      maxAttempts: 2.5,
      maxAgeHours: 1,
      transport: 'script',
      tags: ['a'],
      templateId: 't',
      locale: 'da-DK',
      consentCategories: ['Marketing'],
      excludeAudiences: ['x'],
    })
    assert.deepEqual(
      [s.source, s.debug, s.timeoutMs, s.maxAttempts, s.maxAgeHours, s.transport, s.tags, s.templateId, s.locale],
      // As given: the outbox reads maxAttempts 2.5 as 3 attempts (outbox-rules.test.ts).
      ['Shop', true, 2_500, 2.5, 1, 'script', ['a'], 't', 'da-DK'],
    )
    assert.deepEqual([s.consentCategories, s.excludeAudiences], [['Marketing'], ['x']])
    assert.equal(resolve({ apiKey: 'k', transport: 'api' }).transport, 'api')
  })

  test('an error names the setting and the rule', () => {
    assert.throws(() => resolve({ apiKey: 'k', timeoutMs: -5 }), {
      message: 'Trustpilot: setting "timeoutMs" must be a positive number',
    })
    assert.throws(() => resolve({ apiKey: 'k', maxAgeHours: Number.POSITIVE_INFINITY }), { message: /"maxAgeHours"/ })
    assert.throws(() => resolve({ apiKey: 'k', endpoint: 'http://example.com' }), {
      message:
        'Trustpilot: setting "endpoint" must be an https: URL (http: only for 127.0.0.0/8, localhost, [::1]) or a path on this origin ("/trustpilot"), with no query, hash or credentials',
    })
    assert.throws(() => resolve({ apiKey: 'k', endpoint: 42 }), { message: /"endpoint"/ })
    assert.throws(() => resolve({ apiKey: 'k', endpoint: null }), { message: /"endpoint"/ })
  })

  const notLoopback = [
    'http://127.0.0.1.evil.example',
    'http://a127.0.0.1.example',
    'http://127.0.0.1.nip.io:8080',
    'https://example.com/#hash',
    'https://user:pw@example.com',
    'https://user@example.com',
  ]
  for (const input of notLoopback) {
    test(`endpoint ${input} throws: not loopback, or a hash, credentials or query`, () => {
      assert.throws(() => resolve({ apiKey: 'k', endpoint: input }), { message: /"endpoint"/ })
    })
  }

  describe("a path on the page's origin (the first-party relay)", () => {
    // Kept as a path, so a server render, a worker or a sandboxed frame can make the plugin:
    // transport.ts resolves it against the page's origin when an invitation is sent.
    const paths: Array<[string, string]> = [
      ['/trustpilot', '/trustpilot'],
      [' /trustpilot/ ', '/trustpilot'],
      ['/api/relay/trustpilot', '/api/relay/trustpilot'],
      ['/', ''],
      // The URL parser drops tabs and line breaks, and reads a backslash as a slash: on this origin.
      ['/trust\tpilot', '/trustpilot'],
      ['/a\\b', '/a\\b'],
    ]
    for (const [input, expected] of paths) {
      test(`endpoint ${JSON.stringify(input)} is kept as the path ${JSON.stringify(expected)}, with no page`, () => {
        assert.equal(globalThis.location, undefined)
        assert.equal(resolve({ apiKey: 'k', endpoint: input }).endpoint, expected)
      })
    }
    // Each would leave the page's origin, or carry a query or hash.
    const badPaths = [
      '//evil.example/x',
      '/\\evil.example',
      '/\t/evil.example',
      '/\n/evil.example',
      '/trustpilot?x=1',
      '/trustpilot#x',
    ]
    for (const input of badPaths) {
      test(`endpoint ${JSON.stringify(input)} throws naming endpoint`, () =>
        assert.throws(() => resolve({ apiKey: 'k', endpoint: input }), {
          name: 'TypeError',
          message: /^Trustpilot: setting "endpoint" must be .* or a path on this origin \("\/trustpilot"\)/,
        }))
    }
    test('a path with transport "script" throws saying "api" goes with a path', () => {
      assert.throws(() => resolve({ apiKey: 'k', endpoint: '/trustpilot', transport: 'script' }), {
        name: 'TypeError',
        message: 'Trustpilot: setting "transport" must be "api" or "script" ("api" with a path endpoint)',
      })
      // A full URL still works with the script, and a path with the api transport.
      assert.equal(
        resolve({ apiKey: 'k', endpoint: 'https://shop.example/tp', transport: 'script' }).transport,
        'script',
      )
      assert.equal(resolve({ apiKey: 'k', endpoint: '/tp', transport: 'api' }).transport, 'api')
      assert.throws(() => resolve({ apiKey: 'k', endpoint: '/', transport: 'script' }), { message: /"transport"/ })
    })
  })

  test('unknown keys in the settings are ignored', () => {
    assert.equal(resolve({ apiKey: 'k', versionSettings: { componentTypes: [] }, type: 'browser' }).apiKey, 'k')
  })
})
