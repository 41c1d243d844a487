/**
 * example/relay/cloudflare/worker.ts in workerd, Cloudflare's Workers runtime, through Miniflare:
 * bundled as wrangler bundles it (esbuild, the worker conditions), with wrangler.json's compatibility
 * date and variables, listening on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { API_KEY, boundsChecks, freePort, RECIPES, relayChecks, SHOP_ORIGIN, shopProject } from './support'

interface WranglerConfig {
  main: string
  compatibility_date: string
  compatibility_flags: string[]
  routes: { pattern: string; zone_name: string }[]
  vars: Record<string, string>
}
const wrangler: WranglerConfig = JSON.parse(await readFile(join(RECIPES, 'cloudflare', 'wrangler.json'), 'utf8'))

/** The Worker in workerd, forwarding to `upstream`. */
async function start(upstream: { url: string }) {
  const shop = await shopProject()
  const entry = await shop.add(join('cloudflare', wrangler.main))
  // As wrangler bundles a Worker: one ES module, resolved with the conditions workerd has.
  const bundle = await build({
    entryPoints: [entry],
    absWorkingDir: shop.dir,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    write: false,
    logLevel: 'silent',
  })
  const port = await freePort()
  const worker = new Miniflare({
    modules: true,
    script: bundle.outputFiles[0]?.text ?? '',
    compatibilityDate: wrangler.compatibility_date,
    compatibilityFlags: wrangler.compatibility_flags,
    bindings: { ...wrangler.vars, TRUSTPILOT_API_KEY: API_KEY, SHOP_ORIGIN, TRUSTPILOT_UPSTREAM: upstream.url },
    host: '127.0.0.1',
    port,
  })
  const url = (await worker.ready).origin
  return {
    url,
    async stop() {
      await worker.dispose()
      await shop.remove()
    },
  }
}

describe('Cloudflare Worker (example/relay/cloudflare/worker.ts)', () => {
  test("wrangler.json routes the relay's path on the shop's zone to the worker, and names its variables", () => {
    assert.equal(wrangler.main, 'worker.ts')
    assert.deepEqual(
      wrangler.routes.map((route) => new URL(`https://${route.pattern}`).pathname),
      ['/trustpilot/*'],
    )
    assert.deepEqual(Object.keys(wrangler.vars).sort(), ['SHOP_ORIGIN', 'TRUSTPILOT_API_KEY'])
  })
  relayChecks(start, { get: { status: 405, by: 'relay' } })
})

describe('Cloudflare Worker: bounded under a Trustpilot brownout', () => {
  boundsChecks(start, {
    slowBody: { skip: "Cloudflare's front end takes the buyer's connection, not the Worker: Miniflare is not it" },
    leaveTodo:
      "Miniflare's entry passes no buyer's leaving on to the Worker, enable_request_signal or not: the request to Trustpilot is held to timeoutMs",
    after413: 'closes',
  })
})
