import assert from 'node:assert/strict'
import { after, afterEach, before, beforeEach } from 'node:test'
import type { Context, Plugin } from '@segment/analytics-next'
import { setupServer } from 'msw/node'
import { createCourier } from '../../src/courier'
import type { TrustpilotMiddleware, TrustpilotOutcome, TrustpilotSettings } from '../../src/index'
import { entryKey, OWNER_LOCK_PREFIX, orderKeyPrefix } from '../../src/keys'
import { type Invitation, mapOrder } from '../../src/mapping'
import { createOutbox, type OutboxOptions } from '../../src/outbox'
import { createPlugin, type LoadDelivery, type TrustpilotPlugin } from '../../src/plugin'
import { resolveSettings } from '../../src/settings'
import { createStore, type Store } from '../../src/store'
import { apiTransport } from '../../src/transport'
import { API_KEY } from './fixtures'
import { type Behaviour, type FakeTrustpilot, fakeTrustpilot } from './handlers'

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Resolves once `done()` is true, looking every 5 ms; throws after `ms` without it. */
export async function until(done: () => boolean, ms = 3_000) {
  for (const start = Date.now(); !done(); await sleep(5)) {
    if (Date.now() - start > ms) throw new Error('timed out waiting')
  }
}

/**
 * A Storage backed by a Map, standing in for localStorage in Node. As the real one does, it takes
 * keys and values as strings (`removeItem(undefined)` removes the key "undefined").
 */
export class MemoryStorage implements Storage {
  #items = new Map<string, string>()
  failWrites = false
  get length() {
    return this.#items.size
  }
  clear() {
    this.#items.clear()
  }
  getItem(key: string) {
    return this.#items.get(String(key)) ?? null
  }
  key(index: number) {
    return [...this.#items.keys()][index] ?? null
  }
  /** Every key it holds: what a test looks at to see nothing was stored. */
  keys() {
    return [...this.#items.keys()]
  }
  removeItem(key: string) {
    this.#items.delete(String(key))
  }
  setItem(key: string, value: string) {
    if (this.failWrites) throw new DOMException('quota', 'QuotaExceededError')
    this.#items.set(String(key), String(value))
  }
}

/** The invitation mapping makes of an Order Completed with `properties`, under the tests' integration key. */
export function invitationOf(properties: Record<string, unknown>): Invitation {
  const mapped = mapOrder(
    { type: 'track', event: 'Order Completed', properties },
    {},
    resolveSettings({ apiKey: API_KEY }),
  )
  assert.ok('invitation' in mapped)
  return mapped.invitation
}

/** A minimal valid invitation for order `id` (its email `<id>@x.io`), as mapping makes it. */
export const invitationFor = (id: string): Invitation => invitationOf({ order_id: id, email: `${id}@x.io` })

/** The storage key of order `id` under the tests' integration key. */
export const storageKeyOf = (id: string) => entryKey(API_KEY, id)

/** The keys of the orders the entry kept (inbox.ts) under the tests' integration key, in `storage`. */
export const keptOrders = (storage: MemoryStorage) =>
  storage.keys().filter((key) => key.startsWith(orderKeyPrefix(API_KEY)))

/** An outbox over the real fetch transport, recording every delivery event. */
export function outboxUnderTest(
  overrides: Partial<TrustpilotSettings> = {},
  store: Store = createStore(API_KEY, () => {}),
  locks?: LockManager,
  options: Partial<Pick<OutboxOptions, 'now' | 'random'>> = {},
) {
  const settings = resolveSettings({ apiKey: API_KEY, timeoutMs: 300, ...overrides })
  const events: TrustpilotOutcome[] = []
  const waiters: Array<() => void> = []
  const parts = {
    settings,
    store,
    transport: apiTransport(settings),
    random: () => 0,
    ...options,
    locks,
    report: (event: TrustpilotOutcome, _invitation: Invitation) => {
      events.push(event)
      for (const wake of waiters.splice(0)) wake()
    },
  }
  // The courier sends, the outbox decides when: together, the whole of delivery.
  // Wired as the delivery module wires them: the courier's callbacks are the outbox's.
  const courier = createCourier({
    ...parts,
    retry: (id, invitation, error) => outbox.retry(id, invitation, error),
    settled: () => outbox.settled(),
  })
  const outbox = createOutbox({ ...parts, courier })
  /** Resolves with the first outcome that is final (sent, failed, skipped). */
  const settled = async (): Promise<TrustpilotOutcome> => {
    for (;;) {
      const final = events.find((e) => e.status !== 'retrying')
      if (final) return final
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return { outbox, events, settled, settings, store }
}

/** Starts msw in Node with the fake's handlers for the duration of a suite. */
export function mswServer(fake: FakeTrustpilot) {
  return setupServer(...fake.handlers)
}

/**
 * msw's fake Trustpilot listening for the whole test file (`server`, for a test's own handlers); before
 * each test, what it recorded and was scripted to answer is cleared, and it answers `fallback` again.
 */
export function fakeTrustpilotServer(fallback: Behaviour = 'protocol') {
  const fake = fakeTrustpilot()
  const server = mswServer(fake)
  before(() => server.listen({ onUnhandledRequest: 'error' }))
  after(() => server.close())
  beforeEach(() => {
    fake.requests.length = 0
    fake.script.length = 0
    fake.fallback = fallback
  })
  return { fake, server }
}

/**
 * One MemoryStorage as localStorage for the whole test file, emptied (and writing again) before each
 * test: for a file whose tests build their own store, courier or outbox over it.
 */
export function fileLocalStorage() {
  const storage = new MemoryStorage()
  before(() => {
    ;(globalThis as { localStorage?: Storage }).localStorage = storage
  })
  after(() => {
    delete (globalThis as { localStorage?: Storage }).localStorage
  })
  beforeEach(() => {
    storage.clear()
    storage.failWrites = false
  })
  return storage
}

/**
 * A fresh MemoryStorage as localStorage for each test (`local.storage`), none between tests: for a
 * file of the entry and what it keeps.
 */
export function freshLocalStorage() {
  const local = { storage: new MemoryStorage() }
  beforeEach(() => {
    local.storage = new MemoryStorage()
    ;(globalThis as { localStorage?: Storage }).localStorage = local.storage
  })
  afterEach(() => {
    delete (globalThis as { localStorage?: Storage }).localStorage
  })
  return local
}

/** Web Locks that refuse every request, as in an opaque origin (SecurityError); `asked()` counts them. */
export function refusingLocks() {
  let asked = 0
  const locks = {
    request: () => {
      asked++
      return Promise.reject(new DOMException('denied', 'SecurityError'))
    },
  } as unknown as LockManager
  return { locks, asked: () => asked }
}

/**
 * Web Locks for several "pages" in one process, as a browser keeps them for one origin: exclusive
 * and shared locks by name, granted in the order asked for, `query()` of what is held, and `kill()`
 * to drop every lock of a page, as a browser does when a page dies.
 */
export function lockHub() {
  type Mode = 'exclusive' | 'shared'
  interface Held {
    name: string
    mode: Mode
    page: number
  }
  const held: Held[] = []
  const queue: Array<Held & { grant: () => void }> = []
  const compatible = (name: string, mode: Mode) =>
    held.every((h) => h.name !== name || (mode === 'shared' && h.mode === 'shared'))
  function pump() {
    for (let i = 0; i < queue.length; i++) {
      const ask = queue[i]!
      if (queue.slice(0, i).some((q) => q.name === ask.name) || !compatible(ask.name, ask.mode)) continue
      queue.splice(i--, 1)
      ask.grant()
    }
  }
  let pages = 0
  const asked: string[] = []
  return {
    /** Every lock name asked for, in order. */
    asked: () => [...asked],
    /** The LockManager of one new page. */
    page(): LockManager & { id: number } {
      const page = pages++
      return {
        id: page,
        request(name: string, ...args: unknown[]) {
          const callback = args.pop() as (lock: Lock) => unknown
          const mode = ((args[0] as LockOptions | undefined)?.mode ?? 'exclusive') as Mode
          asked.push(name)
          // As browsers do: a mode other than these two is a TypeError.
          if (mode !== 'exclusive' && mode !== 'shared') return Promise.reject(new TypeError(`bad mode ${mode}`))
          return new Promise((resolve, reject) => {
            queue.push({
              name,
              mode,
              page,
              grant: () => {
                const lock: Held = { name, mode, page }
                held.push(lock)
                Promise.resolve()
                  .then(() => callback({ name, mode } as Lock))
                  .then(resolve, reject)
                  .finally(() => {
                    const at = held.indexOf(lock)
                    if (at >= 0) held.splice(at, 1)
                    pump()
                  })
              },
            })
            pump()
          })
        },
        async query() {
          return { held: held.map(({ name, mode }) => ({ name, mode })), pending: [] }
        },
      } as unknown as LockManager & { id: number }
    },
    /** The page died: its locks are released and its waiting requests dropped. */
    kill(locks: { id: number }) {
      for (let i = held.length - 1; i >= 0; i--) if (held[i]!.page === locks.id) held.splice(i, 1)
      for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.page === locks.id) queue.splice(i, 1)
      pump()
    },
    held: () => held.map((h) => h.name),
  }
}

/** The owner locks (a page's, while it has requests out) `hub` holds now. */
export const ownerLocks = (hub: ReturnType<typeof lockHub>) =>
  hub.held().filter((name) => name.startsWith(OWNER_LOCK_PREFIX))
/** Every owner lock asked of `hub`, in order. */
export const askedOwner = (hub: ReturnType<typeof lockHub>) =>
  hub.asked().filter((name) => name.startsWith(OWNER_LOCK_PREFIX))

/**
 * For a test file of the entry and the delivery module: msw's fake Trustpilot listening for the whole
 * file (`page.server`, for a test's own handlers), and a fresh MemoryStorage as localStorage for each
 * test (`page.storage`).
 */
export function fakeTrustpilotPage() {
  const { fake, server } = fakeTrustpilotServer()
  return Object.assign(freshLocalStorage(), { fake, server })
}

/** The real delivery module, as the entry's own `import()` loads it. */
export const realModule: LoadDelivery = () => import('../../src/delivery')

export interface PageOptions {
  /** Settings over the tests' `apiKey` and a 200 ms `timeoutMs`. */
  settings?: Record<string, unknown>
  /** Destination middleware, added (in this order) before the plugin loads. */
  middleware?: TrustpilotMiddleware[]
  /** How the entry loads the delivery module (counted: `page.loads()`); the real module by default. */
  load?: LoadDelivery
  /** Members of the analytics stand-in to add or replace, e.g. an `emit` that throws. */
  analytics?: Record<string, unknown>
}

/** What the stand-in of analytics recorded of one `analytics.track` call (outcomes with `trackOutcomes`). */
export interface Tracked {
  event: string
  properties: Record<string, unknown>
  options: Record<string, unknown>
}

const pages = new Set<Plugin>()
// One count for every page of a test file: two pages never send the same messageId by accident.
let messageIds = 0

/**
 * A page: the plugin, loaded into a stand-in of analytics that records every event the plugin emits
 * (`emitted`; the outcomes, `outcomes`) and every `track` call (`tracked`). `page.track` calls the
 * plugin's track as analytics-next does: an Order Completed with `properties`, a messageId of its own
 * and `fields` over the event (`{ event: 'Cart Viewed' }`, `{ messageId: undefined }`); it returns the
 * context, track's result, what was logged to the event, and whether track returned at once.
 */
export async function pageWith({
  settings = {},
  middleware = [],
  load = realModule,
  analytics = {},
}: PageOptions = {}) {
  let loads = 0
  const emitted: Array<{ name: string; payload: unknown }> = []
  const outcomes: TrustpilotOutcome[] = []
  const tracked: Tracked[] = []
  const plugin: TrustpilotPlugin = createPlugin(
    resolveSettings({ apiKey: API_KEY, timeoutMs: 200, ...settings }),
    () => {
      loads++
      return load()
    },
  )
  pages.add(plugin)
  if (middleware.length) plugin.addMiddleware(...middleware)
  await plugin.load(
    {} as Context,
    {
      user: () => ({ traits: () => ({}) }),
      emit: (name: string, payload: unknown) => {
        emitted.push({ name, payload })
        if (name === 'trustpilot') outcomes.push(payload as TrustpilotOutcome)
      },
      track: async (event: string, properties: Record<string, unknown>, options: Record<string, unknown>) => {
        tracked.push({ event, properties, options })
      },
      ...analytics,
    } as never,
  )
  const track = (properties: Record<string, unknown> = {}, fields: Record<string, unknown> = {}) => {
    const logs: Array<[level: string, message: string]> = []
    const ctx = {
      event: {
        type: 'track',
        event: 'Order Completed',
        properties,
        context: {},
        integrations: {},
        messageId: `m-${++messageIds}`,
        ...fields,
      },
      log: (level: string, message: string) => logs.push([level, message]),
    } as unknown as Context
    const result = (plugin as Required<Plugin>).track(ctx)
    return { ctx, result, logs, synchronous: result === ctx }
  }
  return { plugin, track, emitted, outcomes, tracked, loads: () => loads }
}

/** Unloads every plugin `pageWith` made (their window listeners with them): an `afterEach` for a file that needs it. */
export function unloadPages() {
  for (const plugin of pages) plugin.unload?.({} as Context, {} as never)
  pages.clear()
}

/**
 * Runs `body` as in a browser page: with a `document`, which Node has not. The plugin speaks of a
 * page's storage and network only where there is a page.
 */
export async function inAPage<T>(body: () => T | Promise<T>): Promise<T> {
  const scope = globalThis as { document?: unknown }
  scope.document = {}
  try {
    return await body()
  } finally {
    delete scope.document
  }
}
