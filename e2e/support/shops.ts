/**
 * Small shops bundled from the packed package by every bundler and output e2e/bundlers.spec.ts
 * loads: one table row per bundler and output, each built twice, once with a shop that registers the
 * plugin as its bundle starts and once with a shop that registers it later (after consent, say).
 *
 * Building 16 shops takes a while on a small machine, and every worker of every browser project
 * needs the same ones: they are built once into <tmpdir>/analytics-plugin-trustpilot-shops/<key>,
 * where the key hashes what the tarball holds, this file and the lockfile (the bundlers' versions),
 * and a lock keeps a second worker waiting instead of building them again. Not inside the repository: esbuild
 * and webpack read the nearest tsconfig.json, whose `paths` would resolve the package to src/.
 */
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type * as esbuild from 'esbuild'
import type { OutputOptions, RollupBuild } from 'rollup'
import { integrityOf } from '../../esbuild.config.mjs'
import { API_KEY } from '../../test/support/fixtures'
import { installConsumer, PACKAGE, pack, REPO } from './pack'

/** Only the delivery engine says this (the outcome of a sent invitation): it marks the file holding it. */
const DELIVERY_ONLY = 'accepted by Trustpilot'

/** When the shop registers the plugin: in the load call as its bundle starts, or on cue later. */
export type Registration = 'at start' | 'later'
export const REGISTRATIONS: Registration[] = ['at start', 'later']

/**
 * The shop's code: analytics-next loaded offline (Segment's settings given, Segment.io off), with the
 * plugin pointed at the endpoint the page's URL names (the msw fake's port changes every test).
 * No top-level await: an IIFE can't have one. The 'later' shop imports the plugin as the other does
 * but creates and registers it only when `window.registerLater()` is called, as a consent callback
 * would: nothing of the plugin has run when the bundle starts.
 */
const shopSource = (registration: Registration) => `import { AnalyticsBrowser } from '@segment/analytics-next'
import { InvitationRejectedError, RetryableError, trustpilot } from '${PACKAGE}'

const endpoint = new URLSearchParams(location.search).get('endpoint') ?? undefined
const plugin = () => trustpilot({ apiKey: ${JSON.stringify(API_KEY)}, endpoint })
window.outcomes = []
const browser = AnalyticsBrowser.load(
  {
    writeKey: 'test-write-key',
    cdnSettings: { integrations: {}, metrics: { sampleRate: 0 } },
    plugins: ${registration === 'at start' ? '[plugin()]' : '[]'},
  },
  { integrations: { 'Segment.io': false } },
)
// instanceof across the bundles: the delivery engine throws the classes the shop imported.
browser.on('trustpilot', (o) =>
  window.outcomes.push({
    status: o.status,
    referenceId: o.referenceId,
    reason: o.reason,
    ...(o.error ? { rejected: o.error instanceof InvitationRejectedError, retryable: o.error instanceof RetryableError } : {}),
  }),
)
browser.then(([analytics]) => {
  window.analytics = analytics
})
${registration === 'later' ? 'window.registerLater = () => browser.register(plugin())\n' : ''}`

/** The page around a bundle: `src` as a module or as a classic script. No favicon request (a 404). */
const page = (script: string) =>
  `<!doctype html>\n<meta charset="utf-8">\n<link rel="icon" href="data:,">\n<title>Shop</title>\n${script}\n`
const modulePage = page('<script type="module" src="./shop.js"></script>')
const classicPage = page('<script src="./shop.js"></script>')

interface Bundler {
  /** Names the build: its output directory and the test's title. */
  id: string
  title: string
  /** Whether the delivery engine should be a file of its own, which the page fetches only for an order. */
  split: boolean
  /** Bundles `source`/shop.js into `outdir`, with an index.html that loads it. */
  build(source: string, outdir: string): Promise<void>
}

// Each bundler is imported when a build needs it: a worker that finds the shops built loads none.

const esbuildShop = async (source: string, outdir: string, options: esbuild.BuildOptions) => {
  const { build } = await import('esbuild')
  await build({
    absWorkingDir: source,
    entryPoints: ['shop.js'],
    bundle: true,
    platform: 'browser',
    logLevel: 'warning',
    ...options,
  })
  await writeFile(join(outdir, 'index.html'), options.format === 'iife' ? classicPage : modulePage)
}

/**
 * Rollup's module graph for a shop's source, made once for both outputs written from it.
 * analytics-next depends on CommonJS packages (@segment/facade), which Rollup reads through commonjs().
 */
const rollupGraphs = new Map<string, Promise<RollupBuild>>()
const rollupGraph = (source: string) => {
  let graph = rollupGraphs.get(source)
  if (!graph) {
    graph = (async () => {
      const [{ rollup }, { default: commonjs }, { nodeResolve }] = await Promise.all([
        import('rollup'),
        import('@rollup/plugin-commonjs'),
        import('@rollup/plugin-node-resolve'),
      ])
      return rollup({
        input: join(source, 'shop.js'),
        plugins: [nodeResolve({ browser: true }), commonjs()],
        onwarn: (warning, warn) => {
          // analytics-next's tslib helpers use `this` at module level; Rollup says so for each file.
          if (warning.code !== 'THIS_IS_UNDEFINED') warn(warning)
        },
      })
    })()
    rollupGraphs.set(source, graph)
  }
  return graph
}

const rollupShop = async (source: string, outdir: string, output: OutputOptions) => {
  await (await rollupGraph(source)).write(output)
  await writeFile(join(outdir, 'index.html'), output.format === 'iife' ? classicPage : modulePage)
}

export const BUNDLERS: Bundler[] = [
  {
    id: 'esbuild-split',
    title: 'esbuild, code-split ESM',
    split: true,
    build: (source, outdir) => esbuildShop(source, outdir, { format: 'esm', splitting: true, outdir }),
  },
  {
    // Without splitting esbuild inlines the dynamic import, wrapped so the module runs when imported.
    id: 'esbuild-esm',
    title: 'esbuild, single-file ESM',
    split: false,
    build: (source, outdir) => esbuildShop(source, outdir, { format: 'esm', outfile: join(outdir, 'shop.js') }),
  },
  {
    id: 'esbuild-iife',
    title: 'esbuild, IIFE',
    split: false,
    build: (source, outdir) => esbuildShop(source, outdir, { format: 'iife', outfile: join(outdir, 'shop.js') }),
  },
  {
    id: 'rollup-split',
    title: 'Rollup, code-split ESM',
    split: true,
    build: (source, outdir) => rollupShop(source, outdir, { format: 'es', dir: outdir, entryFileNames: 'shop.js' }),
  },
  {
    // Rollup (and Vite) can make an IIFE only from one chunk: it inlines the dynamic imports and
    // evaluates every module, delivery's included, as the bundle starts (a theme or tag-manager bundle).
    id: 'rollup-iife',
    title: 'Rollup, single-file IIFE (inlineDynamicImports)',
    split: false,
    build: (source, outdir) =>
      rollupShop(source, outdir, { format: 'iife', file: join(outdir, 'shop.js'), inlineDynamicImports: true }),
  },
  {
    // Vite builds the shop's page, index.html, and writes it with its bundles under assets/.
    id: 'vite',
    title: 'Vite',
    split: true,
    build: async (source, outdir) => {
      await writeFile(join(source, 'index.html'), modulePage)
      const { build } = await import('vite')
      await build({
        root: source,
        configFile: false,
        envDir: false,
        logLevel: 'warn',
        base: './',
        cacheDir: join(source, '.vite'),
        build: { outDir: outdir, emptyOutDir: true },
      })
    },
  },
  {
    // webpack 5's production build, each dynamic import a chunk it loads with a <script>.
    id: 'webpack',
    title: 'webpack 5',
    split: true,
    build: async (source, outdir) => {
      await webpackShop(source, outdir)
      await writeFile(join(outdir, 'index.html'), classicPage)
    },
  },
  {
    // The same with webpack-subresource-integrity (docs/integrity.md): the runtime gives each chunk's
    // <script> its hash and crossorigin, and the page pins the entry, so the shop runs under
    // `Integrity-Policy: blocked-destinations=(script)` (e2e/integrity.spec.ts serves it so).
    id: 'webpack-sri',
    title: 'webpack 5 with webpack-subresource-integrity',
    split: true,
    build: async (source, outdir) => {
      const { SubresourceIntegrityPlugin } = await import('webpack-subresource-integrity')
      await webpackShop(source, outdir, {
        output: { crossOriginLoading: 'anonymous' },
        plugins: [new SubresourceIntegrityPlugin({ hashFuncNames: ['sha384'], enabled: true })],
      })
      const integrity = integrityOf(await readFile(join(outdir, 'shop.js')))
      await writeFile(
        join(outdir, 'index.html'),
        page(`<script src="./shop.js" integrity="${integrity}" crossorigin="anonymous"></script>`),
      )
    },
  },
]

/** webpack 5's production build of `source`/shop.js into `outdir`, with `extra` options (its output's merged). */
async function webpackShop(
  source: string,
  outdir: string,
  extra: { output?: Record<string, unknown>; plugins?: unknown[] } = {},
) {
  const { default: webpack } = await import('webpack')
  const compiler = webpack({
    mode: 'production',
    context: source,
    entry: './shop.js',
    output: { path: outdir, filename: 'shop.js', chunkFilename: '[name].[contenthash:8].js', ...extra.output },
    devtool: false,
    performance: { hints: false },
    // Its minifier (terser) took 25-40 s per build on a 2-core machine; it renames and compresses,
    // but the chunks and the order modules run in are decided before it: the test needs those.
    optimization: { minimize: false },
    plugins: extra.plugins as never,
  })
  const stats = await promisify(compiler.run.bind(compiler))()
  await promisify(compiler.close.bind(compiler))()
  if (!stats || stats.hasErrors()) throw new Error(stats?.toString('errors-only') ?? 'webpack made no stats')
}

/** One built shop, as the test reads it. */
export interface BuiltShop {
  /** Its directory under the served root: the page is /<dir>/index.html. */
  dir: string
  /** Every JS file of the build, relative to `dir`. */
  files: string[]
  /** The files that hold the delivery engine (DELIVERY_ONLY in them). */
  deliveryFiles: string[]
  /** Seconds the build took, for the report. */
  seconds: number
}

export interface Shops {
  /** The directory to serve: every build is a directory in it. */
  root: string
  /** By `shopId(bundler, registration)`. */
  builds: Record<string, BuiltShop>
}

export const shopId = (bundler: Bundler, registration: Registration) =>
  `${bundler.id}-${registration === 'at start' ? 'start' : 'later'}`

async function jsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort()
}

/** Builds every shop into `dir`: the consumer project, then each bundler's output under public/. */
async function buildAll(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const consumer = join(dir, 'consumer')
  await installConsumer(await pack(dir), consumer)
  const builds: Record<string, BuiltShop> = {}
  for (const registration of REGISTRATIONS) {
    // The shop's sources sit inside the consumer project, so its node_modules resolve from them.
    const source = join(consumer, registration === 'at start' ? 'start' : 'later')
    await mkdir(source)
    await writeFile(join(source, 'shop.js'), shopSource(registration))
    // One at a time: the machine's cores also run the browsers.
    for (const bundler of BUNDLERS) {
      const id = shopId(bundler, registration)
      const outdir = join(dir, 'public', id)
      await mkdir(outdir, { recursive: true })
      const started = performance.now()
      await bundler.build(source, outdir)
      const seconds = (performance.now() - started) / 1000
      const files = await jsFiles(outdir)
      const deliveryFiles: string[] = []
      for (const file of files) {
        if ((await readFile(join(outdir, file), 'utf8')).includes(DELIVERY_ONLY)) deliveryFiles.push(file)
      }
      builds[id] = { dir: id, files, deliveryFiles, seconds }
    }
  }
  for (const graph of rollupGraphs.values()) await (await graph).close()
  rollupGraphs.clear()
  // Written last: its presence says the builds are complete.
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(builds, null, 2))
}

/**
 * Names the shops a build makes: what the tarball holds that a bundle reads (package.json and
 * dist/, exactly the files `npm pack` takes), the shops' sources and configs (this file), and the
 * bundlers' versions (the lockfile). Read directly: running `npm pack` for it costs each worker seconds.
 */
async function cacheKey(): Promise<string> {
  const hash = createHash('sha256')
  const dist = (await readdir(join(REPO, 'dist'), { recursive: true })).sort()
  for (const file of ['package.json', ...dist.map((f) => join('dist', f)), 'package-lock.json']) {
    const path = join(REPO, file)
    if ((await stat(path)).isFile()) hash.update(file).update(await readFile(path))
  }
  hash.update(await readFile(import.meta.filename))
  return hash.digest('hex').slice(0, 16)
}

/** A lock older than this was left by a run that died while building: the next one takes over. */
const STALE_LOCK_MS = 180_000
/** Another package's shops are removed when they are this old. */
const STALE_CACHE_MS = 3_600_000

/** The shops for the repository's package as it is built now: read from the cache, or built. */
export async function shops(): Promise<Shops> {
  const cache = join(tmpdir(), `${PACKAGE}-shops`)
  await mkdir(cache, { recursive: true })
  const key = await cacheKey()
  const dir = join(cache, key)
  const lock = `${dir}.lock`
  for (;;) {
    if (existsSync(join(dir, 'manifest.json'))) {
      const builds = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, BuiltShop>
      return { root: join(dir, 'public'), builds }
    }
    try {
      await mkdir(lock)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      // Another worker is building these shops: wait for its manifest.
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      )
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true })
      else await new Promise((r) => setTimeout(r, 250))
      continue
    }
    try {
      // Shops built from an older package are of no further use, once no run can still be serving them.
      for (const entry of await readdir(cache)) {
        const old = await stat(join(cache, entry)).then((s) => Date.now() - s.mtimeMs > STALE_CACHE_MS)
        if (!entry.startsWith(key) && old) await rm(join(cache, entry), { recursive: true, force: true })
      }
      await rm(dir, { recursive: true, force: true })
      await buildAll(dir)
    } finally {
      await rm(lock, { recursive: true, force: true })
    }
  }
}
