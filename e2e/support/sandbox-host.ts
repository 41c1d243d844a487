/**
 * The plugin in a frame with an opaque origin, driven directly (e2e/pages/sandboxed-plugin.js), one
 * flow for every engine: the Playwright suite (e2e/sandboxed-frame.spec.ts) and the WebKit suite
 * (e2e/webkitgtk/webkit.spec.ts) each drive it through their own frame. Two such frames:
 * - `srcdoc`: `<iframe sandbox="allow-scripts" srcdoc=…>` on a page of the shop;
 * - `CSP sandbox`: a page of the shop served with `Content-Security-Policy: sandbox allow-scripts`.
 * In both, localStorage throws (SecurityError) and every request says `Origin: null`.
 */
import { expect } from '@playwright/test'
import type { StandIn } from '../../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../../test/support/static-server'
import { order, requestsFor } from './orders'
import { EMAIL } from './privacy'

export type SandboxShape = 'srcdoc' | 'CSP sandbox'
export const SANDBOX_SHAPES: SandboxShape[] = ['srcdoc', 'CSP sandbox']

/** Where the relay would be: the shop's own origin, as a path endpoint says. */
export const RELAY_PATH = '/trustpilot'

/**
 * The shop's origin for a sandboxed frame: the repository, served with CORS as a CDN serves it (every
 * request of an opaque origin is cross-origin, its module imports too), a page asked for with
 * ?csp=<policy> served with that policy, and a record of every request that reached the relay's path.
 */
export interface SandboxHost extends StaticServer {
  relayed: Array<{ method: string; path: string; origin: string | undefined }>
  /** The page whose frame (or which, itself) has an opaque origin, for `shape`. */
  pageFor(shape: SandboxShape): string
}

export async function startSandboxHost(): Promise<SandboxHost> {
  const relayed: SandboxHost['relayed'] = []
  const server = await startStaticServer('.', 0, {
    handle: (url, res, req) => {
      if (url.pathname !== RELAY_PATH && !url.pathname.startsWith(`${RELAY_PATH}/`)) return false
      // No relay here: no request may come this far. One that does is recorded and refused.
      relayed.push({ method: req.method ?? '', path: url.pathname, origin: req.headers.origin })
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no relay here')
      return true
    },
    headers: (url) => {
      const csp = url.searchParams.get('csp')
      return { 'Access-Control-Allow-Origin': '*', ...(csp ? { 'Content-Security-Policy': csp } : {}) }
    },
  })
  const pageFor = (shape: SandboxShape) =>
    shape === 'srcdoc'
      ? `${server.url}/e2e/pages/sandboxed-srcdoc.html`
      : `${server.url}/e2e/pages/sandboxed-plugin.html?csp=${encodeURIComponent('sandbox allow-scripts')}`
  return Object.assign(server, { relayed, pageFor })
}

/** The host as a Playwright fixture, one per test, for either suite. */
export const sandboxHostFixture = async (
  // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
  {},
  use: (host: SandboxHost) => Promise<void>,
) => {
  const host = await startSandboxHost()
  await use(host)
  await host.close()
}

export interface FrameOutcome {
  status: string
  referenceId?: string
  reason: string
  error?: string | null
  /** Milliseconds from trustpilot(settings) to this outcome. */
  afterMs: number
}

/** What the frame saw: its outcomes, anything thrown into it, and its console (console-capture.js). */
export interface FrameState {
  outcomes: FrameOutcome[]
  pageErrors: string[]
  lines: string[]
}

/** What the flows need of the frame, whichever driver is behind it. */
export interface OpaqueFrame {
  /** window.order(settings, properties) in the frame: returns before the plugin does anything. */
  order(settings: Record<string, unknown>, properties: Record<string, unknown>): Promise<void>
  state(): Promise<FrameState>
}

/**
 * For a driver to evaluate in the frame: its origin and what localStorage does there, which in a
 * sandboxed frame is ['null', 'SecurityError'] in every engine.
 */
export const FRAME_PROBE_SCRIPT =
  'try { localStorage.getItem("probe"); return [self.origin, "usable"] } catch (e) { return [self.origin, e.name] }'

/** The frame's side of it, for a driver to evaluate: the state as one object. */
export const FRAME_STATE_SCRIPT =
  'return { outcomes: window.outcomes, pageErrors: window.pageErrors, lines: window.consoleCapture.lines }'

export const SANDBOX_KEY = 'sandboxed-key'

/**
 * Waits for the frame's first outcome (or something thrown into it), then a little longer for
 * anything after it.
 */
async function settle(frame: OpaqueFrame, timeout: number) {
  await expect
    .poll(
      async () => {
        const { outcomes, pageErrors } = await frame.state()
        return outcomes.length + pageErrors.length
      },
      { timeout },
    )
    .toBeGreaterThan(0)
  await new Promise((r) => setTimeout(r, 500))
  return frame.state()
}

/**
 * A path endpoint in a frame with an opaque origin: the order ends `failed` at once (a TypeError that
 * names the cause), nothing is thrown into the page, and no request leaves: not to the relay's path,
 * not to Trustpilot. Resolves with the failure.
 */
export async function expectPathEndpointFails(frame: OpaqueFrame, host: SandboxHost, standIn: StandIn) {
  await frame.order({ apiKey: SANDBOX_KEY, endpoint: RELAY_PATH }, order('path'))
  const { outcomes, pageErrors } = await settle(frame, 5_000)
  expect(pageErrors).toEqual([])
  // One comparison, so a failure shows both what the page heard and what reached the relay's path.
  expect({ outcomes, relayed: host.relayed }).toEqual({
    outcomes: [
      {
        status: 'failed',
        referenceId: 'path',
        reason: expect.stringMatching(/^Trustpilot: setting "endpoint" is a path\b.*\bopaque\b.*Origin: null/),
        error: 'TypeError',
        afterMs: expect.any(Number),
      },
    ],
    relayed: [],
  })
  expect(outcomes[0]!.afterMs).toBeLessThan(2_000)
  expect(standIn.requests).toEqual([])
  expect(standIn.preflights).toBe(0)
  return outcomes[0]!
}

/**
 * A full URL endpoint (the loopback stand-in) in such a frame: sent, in ONE request that carries the
 * products already (nothing is stored there, so no later page could send them), answered 201. The
 * frame was warned once that invitations are kept in memory, with no email address in its console.
 * Resolves with the request Trustpilot got.
 */
export async function expectSentInOneRequest(frame: OpaqueFrame, host: SandboxHost, standIn: StandIn) {
  await frame.order({ apiKey: SANDBOX_KEY, endpoint: standIn.url }, order('full'))
  const { outcomes, pageErrors, lines } = await settle(frame, 10_000)
  expect(pageErrors).toEqual([])
  expect(outcomes.map((o) => [o.status, o.reason])).toEqual([['sent', 'accepted by Trustpilot']])
  const requests = requestsFor(standIn, 'full')
  expect(requests.map((r) => r.status)).toEqual([201])
  expect(requests[0]!.body).toMatchObject({ products: [{ sku: 'sku-full' }], productSkus: ['sku-full'] })
  expect(standIn.created.get('full')).toBe(1)
  expect(host.relayed).toEqual([])
  expect(lines.filter((line) => line.includes('localStorage failed'))).toEqual([
    'warn: Trustpilot: localStorage failed (SecurityError); pending invitations are kept in memory for this page only, and end with it',
  ])
  expect(lines.filter((line) => EMAIL.test(line))).toEqual([])
  return requests[0]!
}
