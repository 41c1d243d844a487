/**
 * The published package as a shop uses it: `npm pack`ed, installed into a consumer project, bundled
 * with code splitting by esbuild, and loaded in the browser. dist/index.js imports the delivery
 * engine with `import('./delivery.js')` so that a shop's bundler makes it a chunk of its own, which
 * pages without an order never download. This proves both halves: the bundler does split it, and the
 * page asks for that chunk only when there is an order to deliver.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as esbuild from 'esbuild'
import { API_KEY, SEED_FIRST_BODY, SEED_PROPERTIES, SEED_SECOND_BODY } from '../test/support/fixtures'
import { type StaticServer, startStaticServer } from '../test/support/static-server'
import { test as base, expect } from './support/fixtures'
import { installConsumer, PACKAGE, pack } from './support/pack'

/** Only the delivery engine says this (the outcome of a sent invitation): it marks its chunk. */
const DELIVERY_ONLY = 'accepted by Trustpilot'
/** Only the entry says this: it shows the entry's code is in the shop's own bundle. */
const ENTRY_ONLY = 'the delivery module did not load'

/**
 * The consumer's code: analytics-next loaded offline exactly as e2e/pages/harness.js loads it, with
 * the plugin pointed at the endpoint the page's URL names (the msw fake's port changes every test).
 */
const SHOP_JS = `import { AnalyticsBrowser } from '@segment/analytics-next'
import { trustpilot } from '${PACKAGE}'

const endpoint = new URLSearchParams(location.search).get('endpoint') ?? undefined
window.outcomes = []
const browser = AnalyticsBrowser.load(
  {
    writeKey: 'test-write-key',
    cdnSettings: { integrations: {}, metrics: { sampleRate: 0 } },
    plugins: [trustpilot({ apiKey: ${JSON.stringify(API_KEY)}, endpoint })],
  },
  { integrations: { 'Segment.io': false } },
)
browser.on('trustpilot', (o) => window.outcomes.push({ status: o.status, referenceId: o.referenceId, reason: o.reason }))
const [analytics] = await browser
window.analytics = analytics
`

const INDEX_HTML =
  '<!doctype html>\n<meta charset="utf-8">\n<title>Shop</title>\n<script type="module" src="shop.js"></script>\n'

interface ShopBuild {
  /** Where the bundled shop is served. */
  url: string
  /** Every JS file esbuild wrote, by name. */
  files: string[]
  /** The file the page loads, and the chunks holding the delivery engine and the script transport. */
  entry: string
  deliveryChunk: string
  scriptTransportChunk: string
  /** The package files esbuild read: they must come from the packed tarball. */
  packageInputs: string[]
  read(file: string): Promise<string>
}

/** Packs the package, installs it into a fresh consumer project and bundles the shop there. */
async function buildShop(dir: string): Promise<Omit<ShopBuild, 'url'>> {
  const consumer = join(dir, 'consumer')
  await installConsumer(await pack(dir), consumer)
  await writeFile(join(consumer, 'shop.js'), SHOP_JS)

  const outdir = join(consumer, 'public')
  const result = await esbuild.build({
    absWorkingDir: consumer,
    entryPoints: ['shop.js'],
    bundle: true,
    splitting: true,
    format: 'esm',
    outdir,
    platform: 'browser',
    metafile: true,
    logLevel: 'warning',
  })
  await writeFile(join(outdir, 'index.html'), INDEX_HTML)

  const read = (file: string) => readFile(join(outdir, file), 'utf8')
  const files = (await readdir(outdir)).filter((f) => f.endsWith('.js'))
  /** The one output esbuild made from `input`, a file of the installed package. */
  const chunkOf = (input: string) => {
    const outputs = Object.entries(result.metafile.outputs).filter(([, o]) => o.entryPoint === input)
    if (outputs.length !== 1) throw new Error(`expected one chunk made from ${input}, got ${outputs.length}`)
    return outputs[0]![0].split('/').pop()!
  }
  const packageInputs = Object.keys(result.metafile.inputs).filter((i) => i.startsWith(`node_modules/${PACKAGE}/`))
  return {
    files,
    entry: 'shop.js',
    deliveryChunk: chunkOf(`node_modules/${PACKAGE}/dist/delivery.js`),
    scriptTransportChunk: chunkOf(`node_modules/${PACKAGE}/dist/script-transport.js`),
    packageInputs,
    read,
  }
}

const test = base.extend<object, { shopBuild: ShopBuild }>({
  // Per worker: packing and bundling take seconds and every test here reads the same result.
  shopBuild: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this destructuring
    async ({}, use) => {
      const dir = await mkdtemp(join(tmpdir(), 'trustpilot-package-'))
      let server: StaticServer | undefined
      try {
        const build = await buildShop(dir)
        server = await startStaticServer(join(dir, 'consumer', 'public'))
        await use({ ...build, url: server.url })
      } finally {
        await server?.close()
        await rm(dir, { recursive: true, force: true })
      }
    },
    { scope: 'worker' },
  ],
})

test('a bundler makes the delivery engine a chunk the entry bundle does not contain', async ({ shopBuild }) => {
  const { files, entry, deliveryChunk, scriptTransportChunk, packageInputs, read } = shopBuild
  // The bundle is made from the packed tarball, not from src/ (tsconfig's paths) or the repo's dist/.
  expect(packageInputs.sort()).toEqual(
    ['delivery.js', 'index.js', 'outbox.js', 'script-transport.js'].map((f) => `node_modules/${PACKAGE}/dist/${f}`),
  )
  expect(files.length).toBeGreaterThan(1)
  expect(files).toContain(entry)
  expect(deliveryChunk).not.toBe(entry)
  expect(scriptTransportChunk).not.toBe(deliveryChunk)

  const withDeliveryCode: string[] = []
  for (const file of files) if ((await read(file)).includes(DELIVERY_ONLY)) withDeliveryCode.push(file)
  expect(withDeliveryCode).toEqual([deliveryChunk])
  // The plugin's entry may sit in a chunk the shop's entry imports statically: the delivery chunk
  // imports the error classes from it, so a splitting bundler shares it between the two.
  const statically = [...(await read(entry)).matchAll(/^import\s[^'"]*from\s*"\.\/([^"]+)"/gm)].map(([, f]) => f)
  const entryCode = (await Promise.all([entry, ...statically].map((file) => read(file as string)))).join('\n')
  expect(statically).not.toContain(deliveryChunk)
  expect(entryCode).toContain(ENTRY_ONLY)
  expect(entryCode).not.toContain(DELIVERY_ONLY)
})

test('the shop downloads the delivery chunk only for an order, and the invitation reaches Trustpilot', async ({
  page,
  shop,
  shopBuild,
  trustpilotApi,
}) => {
  const { deliveryChunk, scriptTransportChunk } = shopBuild
  // Every file the page asks for, by name: module loads show up as requests in both engines.
  const requested: string[] = []
  page.on('request', (request) => requested.push(new URL(request.url()).pathname.slice(1)))

  await page.goto(`${shopBuild.url}/?endpoint=${encodeURIComponent(trustpilotApi.url)}`)
  await page.waitForFunction(() => (window as any).analytics)
  expect(requested).toContain('shop.js')

  // A fresh browser context: nothing is stored, so nothing makes the entry load delivery at start,
  // and an ordinary event (not an order, not a checkout step) must not either. The plugin would
  // start the import within the track call; the wait gives a request time to show up.
  await shop.track('Product Viewed', { product_id: 'p-1' })
  await page.waitForTimeout(500)
  expect(requested).not.toContain(deliveryChunk)

  await shop.track('Order Completed', SEED_PROPERTIES)
  await shop.waitForOutcome('sent', SEED_FIRST_BODY.referenceId)
  expect(requested).toContain(deliveryChunk)
  // transport 'api' (the default) sends with fetch: the script transport's chunk stays unloaded.
  expect(requested).not.toContain(scriptTransportChunk)
  // Trustpilot's protocol: 202 to the invitation, then the same with products, 201.
  expect(trustpilotApi.requests.map((r) => r.url)).toEqual([
    `${trustpilotApi.url}/api/${API_KEY}/invitation`,
    `${trustpilotApi.url}/api/${API_KEY}/invitation`,
  ])
  expect(trustpilotApi.requests.map((r) => r.body)).toEqual([SEED_FIRST_BODY, SEED_SECOND_BODY])
})

test('the relay, from the packed tarball: a Node server imports analytics-plugin-trustpilot/relay; no shop bundle holds it', async ({
  shopBuild,
}) => {
  // The shop's browser bundle reads no file of the relay.
  expect(shopBuild.packageInputs.filter((input) => input.includes('relay'))).toEqual([])
  for (const file of shopBuild.files) expect(await shopBuild.read(file)).not.toContain('Trustpilot relay')

  // On the server, the subpath resolves through `exports` and answers as the relay does.
  const dir = await mkdtemp(join(tmpdir(), 'trustpilot-relay-'))
  try {
    const consumer = join(dir, 'consumer')
    await installConsumer(await pack(dir), consumer)
    await writeFile(
      join(consumer, 'server.mjs'),
      `import { toNodeHandler, trustpilotRelay } from '${PACKAGE}/relay'
const relay = trustpilotRelay({ apiKeys: ['k'], origins: ['https://shop.example'] })
const answer = await relay(new Request('https://shop.example/trustpilot/api/k/invitation', { method: 'GET' }))
console.log(JSON.stringify({ status: answer.status, node: typeof toNodeHandler(relay) }))
`,
    )
    const { stdout } = await promisify(execFile)(process.execPath, ['server.mjs'], { cwd: consumer })
    expect(JSON.parse(stdout)).toEqual({ status: 405, node: 'function' })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
