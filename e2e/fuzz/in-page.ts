/**
 * The harness page's side of e2e/fuzz.spec.ts: the helpers installed in the page (they rebuild each
 * event from its JSON text, re-check that it is invalid, track it and record what came of it, and
 * snapshot the built-in prototypes), and the Node side that feeds them the events batch by batch.
 */

import type { Page } from '@playwright/test'
import { describeEvent, type FuzzEvent, POLLUTION_KEYS, TAG } from './arbitraries'

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

/**
 * Installs the helpers as `window.__fuzz` (and the unhandled rejections as `window.__fuzzRejections`)
 * with addInitScript, so the rejection listener is there before any other script runs.
 */
export const installFuzzHelpers = (page: Page) =>
  page.addInitScript(fuzzHelpers, { tag: TAG, pollutionKeys: POLLUTION_KEYS })

/** Runs in the page: nothing from this module's scope reaches it, only its arguments. */
function fuzzHelpers(args: { tag: string; pollutionKeys: readonly string[] }) {
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

  /** The page's own copy of the invalid-by-construction rule (see e2e/fuzz/arbitraries.ts). */
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

/**
 * Tracks the events in the page, batch by batch, with an identify call before each batch. Returns
 * each event's result, and what went wrong around the identify calls: each must resolve, and neither
 * its traits nor the user's stored traits may hold a valid-looking email (that is a generator bug).
 */
export async function runBatches(
  page: Page,
  run: { events: FuzzEvent[]; identifies: string[]; batches: number; batchSize: number },
) {
  const { events, identifies, batches, batchSize } = run
  // Which event the page is on (it says so before each), for the message of a page that hangs.
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
  const results: EventResult[] = []
  const problems: string[] = []
  for (let b = 0; b < batches; b++) {
    const first = b * batchSize
    // Two batches in three: one event at a time, so each outcome is tied to its event; the third
    // fires the whole batch at once, to also run the plugin with many events in flight.
    const batch = {
      concurrent: b % 3 === 2,
      identify: identifies[b] ?? null,
      events: events.slice(first, first + batchSize),
      first,
    }
    const result = await runBatch(page, batch, () => running)
    results.push(...result.events)
    if (result.identify?.status !== 'resolved') problems.push(`identify before batch ${b}: ${result.identify?.status}`)
    if (result.identify?.notInvalid) problems.push(`generator bug: ${result.identify.notInvalid}`)
    if (result.userTraits) problems.push(`generator bug: user traits hold ${result.userTraits}`)
  }
  return { results, problems }
}

/**
 * What is wrong with one event's result (`at` names the event): it must be invalid as generated, resolve
 * with no error logged and no failed delivery, and, tracked alone, be skipped right then with one
 * non-empty reason that never quotes its email address.
 */
export function problemsOf(r: EventResult, at: string): string[] {
  const problems: string[] = []
  if (r.notInvalid) problems.push(`generator bug, ${at}: ${r.notInvalid}`)
  // No exception escapes: every call resolves, and no plugin error is logged on its context.
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
  return problems
}
