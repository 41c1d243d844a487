/**
 * Pages under the strictest script policies, for e2e/strict-policies.spec.ts and its mirror in the
 * WebKit suite (whose driver can't route requests, so the server writes the pages itself): the
 * repository served on 127.0.0.1, as the `site` fixture serves it, where a page asked for with
 * - `?csp=<policy>` gets that Content-Security-Policy;
 * - `?nonce=<n>` has `nonce="<n>"` on each of its `<script>` tags, as a server renders a page under a
 *   nonce-based strict CSP (`script-src 'nonce-<n>' 'strict-dynamic'`);
 * - `?pinned` has every script it loads pinned: `integrity` (the SHA-384 of the file as served now)
 *   and `crossorigin` on each `<script src>`, and an inline import map giving the integrity of each
 *   module of `dist/`, for its full URL on this origin, as docs/integrity.md tells a shop to;
 * - `?integrity-policy=<value>` gets that Integrity-Policy (`blocked-destinations=(script)`).
 * And the checks both suites make of such a page, whichever driver reads it (StrictPage).
 */
import { readFileSync } from 'node:fs'
import { expect } from '@playwright/test'
import { integrityOf, OUTPUTS } from '../../esbuild.config.mjs'
import type { StandIn } from '../../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../../test/support/static-server'
import type { Outcome } from './fixtures'

/** The nonce of the tests' pages: a fixed one is enough to test what a page's nonce lets through. */
export const NONCE = 'c3RyaWN0LXBvbGljaWVz'

/** The strict CSP Google's guide and most shops with one use: only nonced scripts, and what they load. */
export const nonceCsp = (nonce = NONCE) =>
  `script-src 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'none'`

const sri = (path: string) => integrityOf(readFileSync(path))

/** The ES modules of dist/ (not the classic script, not the Node files), as the build names them. */
const MODULES = (OUTPUTS as Array<[string, string, string]>)
  .filter(([, format]) => format === 'esm')
  .map(([, , file]) => file)

/** An inline import map giving the integrity of every module in dist/, by its URL on `origin`. */
function importMap(origin: string) {
  const integrity = Object.fromEntries(MODULES.map((file) => [`${origin}/${file}`, sri(file)]))
  return `<script type="importmap">${JSON.stringify({ integrity })}</script>`
}

/** The page at `path` as the query asks for it (see above). */
function render(path: string, url: URL, origin: string) {
  let html = readFileSync(path, 'utf8')
  if (url.searchParams.has('pinned')) {
    html = html
      .replace(/<script src="([^"]+)"/g, (_, src: string) => {
        const file = new URL(src, url).pathname.slice(1)
        return `<script src="${src}" integrity="${sri(file)}" crossorigin="anonymous"`
      })
      .replace('<head>', `<head>\n    ${importMap(origin)}`)
  }
  const nonce = url.searchParams.get('nonce')
  if (nonce) html = html.replaceAll('<script', `<script nonce="${nonce}"`)
  return html
}

const policyHeaders = (url: URL) => {
  const headers: Record<string, string> = {}
  const csp = url.searchParams.get('csp')
  const integrityPolicy = url.searchParams.get('integrity-policy')
  if (csp) headers['Content-Security-Policy'] = csp
  if (integrityPolicy) headers['Integrity-Policy'] = integrityPolicy
  return headers
}

/** Serves the repository on 127.0.0.1 with the pages above. */
export async function serveStrictPages(): Promise<StaticServer> {
  const origin = { url: '' }
  const server = await startStaticServer('.', 0, {
    handle: (url, res) => {
      if (!url.pathname.endsWith('.html') || !(url.searchParams.has('nonce') || url.searchParams.has('pinned'))) {
        return false
      }
      let html: string
      try {
        html = render(`.${url.pathname}`, url, origin.url)
      } catch {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found')
        return true
      }
      res
        .writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Cache-Control': 'no-store',
          ...policyHeaders(url),
        })
        .end(html)
      return true
    },
    headers: policyHeaders,
  })
  origin.url = server.url
  return server
}

/**
 * A CDN on another origin for the same files, with CORS, as jsDelivr, unpkg and Segment's CDN serve
 * them (a module script from another origin needs it).
 */
export const serveCdn = () => startStaticServer('.', 0, { headers: () => ({ 'Access-Control-Allow-Origin': '*' }) })

export const TT_REFUSED = "Trusted Types refused Trustpilot's script: CSP trusted-types must list trustpilot"

/** What the checks need of a page under these policies, whichever driver is behind it. */
export interface StrictPage {
  /** The CSP violations the page recorded from its first script on (e2e/pages/console-capture.js). */
  violations(): Promise<string[]>
  /** What the page fetched of Trustpilot's script. */
  tpScriptFetches(): Promise<string[]>
}

/**
 * Transport 'script' with maxAttempts 2 on a page whose Trusted Types refuse the policy trustpilot,
 * given the order's `outcomes`: retrying, then failed, each reason naming the policy. No violation
 * loop: the policy refused once (never asked for again), the script's URL once per attempt, nothing
 * more 2 s later. tp.min.js never fetched, nothing reached Trustpilot.
 */
export async function expectTrustedTypesRefused(page: StrictPage, outcomes: Outcome[], standIn: StandIn) {
  expect(outcomes.map((o) => [o.status, o.error])).toEqual([
    ['retrying', 'RetryableError'],
    ['failed', 'DeliveryAbandonedError'],
  ])
  expect(outcomes[0]?.reason).toMatch(new RegExp(`^${TT_REFUSED}; attempt 1 failed, next in \\d+ s$`))
  expect(outcomes[1]?.reason).toBe(`gave up after 2 attempts; last error: ${TT_REFUSED}`)
  const reported = [
    'trusted-types trusted-types-policy',
    'require-trusted-types-for trusted-types-sink',
    'require-trusted-types-for trusted-types-sink',
  ]
  expect(await page.violations()).toEqual(reported)
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  expect(await page.violations()).toEqual(reported)
  expect(await page.tpScriptFetches()).toEqual([])
  expect(standIn.requests).toEqual([])
}
