import { setupServer } from 'msw/node'
import type { TrustpilotOutcome, TrustpilotSettings } from '../src/index'
import type { Invitation } from '../src/mapping'
import { createOutbox } from '../src/outbox'
import { resolveSettings } from '../src/settings'
import { createStore, type Store } from '../src/store'
import { apiTransport } from '../src/transport'
import { API_KEY } from './fixtures'
import type { FakeTrustpilot } from './handlers'

/** A Storage backed by a Map, standing in for localStorage in Node. */
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
    return this.#items.get(key) ?? null
  }
  key(index: number) {
    return [...this.#items.keys()][index] ?? null
  }
  removeItem(key: string) {
    this.#items.delete(key)
  }
  setItem(key: string, value: string) {
    if (this.failWrites) throw new DOMException('quota', 'QuotaExceededError')
    this.#items.set(key, value)
  }
}

/** An outbox over the real fetch transport, recording every delivery event. */
export function outboxUnderTest(
  overrides: Partial<TrustpilotSettings> = {},
  store: Store = createStore(API_KEY, () => {}),
  locks?: LockManager,
) {
  const settings = resolveSettings({ apiKey: API_KEY, timeoutMs: 300, ...overrides })
  const events: TrustpilotOutcome[] = []
  const waiters: Array<() => void> = []
  const outbox = createOutbox({
    settings,
    store,
    transport: apiTransport(settings),
    random: () => 0,
    locks,
    notify: (event: TrustpilotOutcome, _invitation: Invitation) => {
      events.push(event)
      for (const wake of waiters.splice(0)) wake()
    },
  })
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

/** A LockManager for one process: exclusive locks by name, granted in the order they were asked for. */
export function queuedLocks(): LockManager {
  const tails = new Map<string, Promise<unknown>>()
  return {
    async request(name: string, callback: (lock: Lock | null) => Promise<unknown>) {
      const before = tails.get(name) ?? Promise.resolve()
      let release = () => {}
      tails.set(
        name,
        before.then(() => new Promise<void>((resolve) => (release = resolve))),
      )
      await before
      try {
        return await callback({ name, mode: 'exclusive' } as Lock)
      } finally {
        release()
      }
    },
  } as unknown as LockManager
}
