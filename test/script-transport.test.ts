/**
 * The 'script' transport (src/script-transport.ts) on pages with strict script policies, in a fake
 * page: the URL of Trustpilot's script made by a Trusted Types policy named `trustpilot`, created
 * once per page; a page that refuses the policy and enforces Trusted Types ends each attempt with a
 * reason that names the policy (never the browser's TypeError, never a policy asked for again); and a
 * script that does not load gets a reason naming the page's Integrity-Policy or CSP as likely causes.
 * The browsers' own enforcement is e2e/strict-policies.spec.ts.
 *
 * The policy lives in the module, once per page: each test imports a fresh copy of the module (a
 * query of its own), as each page evaluates its own.
 */
import assert from 'node:assert/strict'
import { afterEach, describe, test } from 'node:test'
import { DeliveryAbandonedError, RetryableError } from '../src/errors'
import { resolveSettings } from '../src/settings'
import type { TrustpilotOutcome } from '../src/types'
import { API_KEY, SEED_PROPERTIES } from './support/fixtures'
import { freshLocalStorage, invitationFor, until } from './support/helpers'

type ScriptTransportModule = typeof import('../src/script-transport')
let copies = 0
/** A fresh copy of the module: a new page's, with no policy made yet. */
const freshModule = (): Promise<ScriptTransportModule> => import(`../src/script-transport.ts?page=${++copies}`)

const TT_REFUSED = "Trusted Types refused Trustpilot's script: CSP trusted-types must list trustpilot"

/** A TrustedScriptURL as a policy makes it: the only value an enforcing page takes for `script.src`. */
class TrustedScriptURL {
  constructor(readonly url: string) {}
  toString() {
    return this.url
  }
}

interface FakePageOptions {
  /** Trusted Types in the browser: absent (an older browser), or present. */
  trustedTypes?: boolean
  /** The policy names the page's CSP `trusted-types` allows; any when unset. */
  allowedPolicies?: string[]
  /** `require-trusted-types-for 'script'`: a string for `script.src` is refused with a TypeError. */
  enforce?: boolean
  /** What a script added to the page does: runs tp.min.js (the default), or fails to load. */
  script?: 'loads' | 'fails'
}

/**
 * A page with just what the transport touches: `document.createElement('script')`, `document.head`,
 * `trustedTypes`, and a tp.min.js that answers every invitation without an error. It records the
 * policies asked for, the scripts added, the violations an enforcing browser would report.
 */
function fakePage({ trustedTypes = true, allowedPolicies, enforce = false, script = 'loads' }: FakePageOptions = {}) {
  const asked: string[] = []
  const created: Array<{ name: string; given: string[] }> = []
  const added: Array<{ src: unknown }> = []
  const violations: string[] = []
  const tpCalls: unknown[][] = []
  const scope = globalThis as Record<string, unknown>
  const tp = (...args: unknown[]) => {
    tpCalls.push(args)
    if (args[0] === 'on') listeners.push(args[2] as (error?: unknown) => void)
    if (args[0] === 'createInvitation') {
      queueMicrotask(() => {
        for (const listener of listeners.splice(0)) listener()
      })
    }
  }
  const listeners: Array<(error?: unknown) => void> = []
  scope.trustedTypes = trustedTypes
    ? {
        createPolicy(name: string, rules: { createScriptURL(url: string): string }) {
          asked.push(name)
          if (allowedPolicies && !allowedPolicies.includes(name)) {
            violations.push(`trusted-types ${name}`)
            throw new TypeError(`Policy "${name}" disallowed.`)
          }
          const policy = { name, given: [] as string[] }
          created.push(policy)
          return {
            createScriptURL: (url: string) => {
              policy.given.push(url)
              return new TrustedScriptURL(rules.createScriptURL(url))
            },
          }
        },
      }
    : undefined
  scope.document = {
    createElement(tag: string) {
      assert.equal(tag, 'script')
      let src: unknown
      const element = {
        onload: undefined as (() => void) | undefined,
        onerror: undefined as (() => void) | undefined,
        get src() {
          return String(src)
        },
        set src(value: unknown) {
          if (enforce && !(value instanceof TrustedScriptURL)) {
            violations.push('require-trusted-types-for HTMLScriptElement src')
            throw new TypeError("This document requires 'TrustedScriptURL' assignment.")
          }
          src = value
        },
      }
      return element
    },
    head: {
      append(element: { src: string; onload?: () => void; onerror?: () => void }) {
        added.push({ src: element.src })
        setTimeout(() => {
          if (script === 'fails') return element.onerror?.()
          scope.tp = tp
          element.onload?.()
        }, 1)
      },
    },
  }
  return { asked, created, added, violations, tpCalls }
}

const settingsFor = (overrides: Record<string, unknown> = {}) =>
  resolveSettings({ apiKey: API_KEY, transport: 'script', timeoutMs: 200, ...overrides })

freshLocalStorage()
afterEach(() => {
  const scope = globalThis as Record<string, unknown>
  for (const name of ['document', 'trustedTypes', 'tp', 'TrustpilotObject']) delete scope[name]
})

describe("the 'script' transport under Trusted Types", () => {
  test("the script's URL is made by a policy named trustpilot, created once for every load and transport of the page", async () => {
    const page = fakePage({ allowedPolicies: ['trustpilot'], enforce: true })
    const { scriptTransport, TRUSTED_TYPES_POLICY } = await freshModule()
    assert.equal(TRUSTED_TYPES_POLICY, 'trustpilot')
    const first = scriptTransport(settingsFor())
    const second = scriptTransport(settingsFor({ endpoint: 'https://tp.example' }))
    assert.equal(await first.send(invitationFor('one'), 'invite', true), 'created')
    assert.equal(await second.send(invitationFor('two'), 'invite', true), 'created')
    assert.deepEqual(page.asked, ['trustpilot'], 'asked for once, by name')
    assert.deepEqual(page.created[0]?.given, [
      'https://invitejs.trustpilot.com/tp.min.js',
      'https://tp.example/tp.min.js',
    ])
    assert.deepEqual(
      page.added.map((script) => script.src),
      ['https://invitejs.trustpilot.com/tp.min.js', 'https://tp.example/tp.min.js'],
    )
    assert.deepEqual(page.violations, [])
  })

  test('a script that failed is loaded again through the same policy', async () => {
    const page = fakePage({ allowedPolicies: ['trustpilot'], enforce: true, script: 'fails' })
    const { scriptTransport } = await freshModule()
    const transport = scriptTransport(settingsFor())
    await assert.rejects(transport.send(invitationFor('again'), 'invite', true), RetryableError)
    await assert.rejects(transport.send(invitationFor('again'), 'invite', true), RetryableError)
    assert.equal(page.added.length, 2)
    assert.deepEqual(page.asked, ['trustpilot'])
    assert.equal(page.created[0]?.given.length, 2)
  })

  test('a page that refuses the policy and enforces Trusted Types: each attempt fails with a reason naming the policy, the policy never asked for again', async () => {
    const page = fakePage({ allowedPolicies: ['someone-else'], enforce: true })
    const { scriptTransport } = await freshModule()
    const transport = scriptTransport(settingsFor())
    for (let attempt = 1; attempt <= 3; attempt++) {
      const error = await transport.send(invitationFor('refused'), 'invite', true).then(
        () => assert.fail('sent'),
        (thrown: unknown) => thrown,
      )
      assert.ok(error instanceof RetryableError, `attempt ${attempt}: a RetryableError, not the browser's TypeError`)
      assert.equal(error.message, TT_REFUSED)
      assert.ok(error.cause instanceof TypeError, "the browser's TypeError is kept as the cause")
    }
    assert.deepEqual(page.asked, ['trustpilot'], 'a refused policy is a violation report: asked for once per page')
    assert.deepEqual(page.added, [], 'no script added')
    // One report for the policy, one per attempt for the sink: as many as attempts, no more.
    assert.deepEqual(page.violations, [
      'trusted-types trustpilot',
      ...Array(3).fill('require-trusted-types-for HTMLScriptElement src'),
    ])
    assert.ok(
      page.tpCalls.every(([command]) => command !== 'createInvitation'),
      'nothing handed to a script that never ran',
    )
  })

  test('a page that refuses the policy without enforcing Trusted Types (trusted-types alone): the URL goes as a string', async () => {
    const page = fakePage({ allowedPolicies: ['someone-else'], enforce: false })
    const { scriptTransport } = await freshModule()
    assert.equal(await scriptTransport(settingsFor()).send(invitationFor('string'), 'invite', true), 'created')
    assert.deepEqual(page.asked, ['trustpilot'])
    assert.deepEqual(page.added, [{ src: 'https://invitejs.trustpilot.com/tp.min.js' }])
  })

  test('a browser without Trusted Types: a string, no policy', async () => {
    const page = fakePage({ trustedTypes: false })
    const { scriptTransport } = await freshModule()
    assert.equal(await scriptTransport(settingsFor()).send(invitationFor('old'), 'invite', true), 'created')
    assert.deepEqual(page.asked, [])
    assert.deepEqual(page.added, [{ src: 'https://invitejs.trustpilot.com/tp.min.js' }])
  })
})

describe("the 'script' transport where Trustpilot's script does not load", () => {
  test("the reason names the page's Integrity-Policy and CSP as likely causes", async () => {
    fakePage({ script: 'fails' })
    const { scriptTransport } = await freshModule()
    await assert.rejects(scriptTransport(settingsFor()).send(invitationFor('blocked'), 'invite', true), {
      name: 'RetryableError',
      message:
        "Trustpilot's script https://invitejs.trustpilot.com/tp.min.js failed to load (blocked? by the page's Integrity-Policy or CSP, or a content blocker)",
    })
  })
})

describe('through the delivery module: a page refusing the policy', () => {
  test('the order ends within maxAttempts, failed with the reason that names the policy', async () => {
    const page = fakePage({ allowedPolicies: [], enforce: true })
    const { startDelivery } = await import('../src/delivery')
    const { orderOf } = await import('../src/inbox')
    const outcomes: TrustpilotOutcome[] = []
    const delivery = startDelivery({
      settings: settingsFor({ maxAttempts: 2 }),
      modules: { outbox: () => import('../src/outbox'), scriptTransport: freshModule },
      analytics: () => ({
        emit: (event, outcome) => void (event === 'trustpilot' && outcomes.push(outcome as TrustpilotOutcome)),
        track() {},
      }),
    })
    delivery.take(orderOf({ type: 'track', event: 'Order Completed', properties: SEED_PROPERTIES, context: {} }, {}))
    await until(() => outcomes.some((outcome) => outcome.status === 'failed'), 5_000)
    delivery.stop()
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['retrying', 'failed'],
    )
    assert.match(outcomes[0]?.reason ?? '', new RegExp(`^${TT_REFUSED}; attempt 1 failed, next in \\d+ s$`))
    assert.equal(outcomes[1]?.reason, `gave up after 2 attempts; last error: ${TT_REFUSED}`)
    assert.ok(outcomes[1]?.error instanceof DeliveryAbandonedError)
    assert.deepEqual(page.asked, ['trustpilot'])
    assert.equal(page.violations.length, 3, 'the policy once, the sink once per attempt')
  })
})
