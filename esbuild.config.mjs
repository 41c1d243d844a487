// Builds the files a browser loads:
// - dist/index.js, the entry every page loads (ES module, for bundlers and CDN imports), and the
//   one home of the error classes: each bundle below imports them from it (errorsFromEntry);
// - dist/delivery.js, the delivery module the entry imports on demand as './delivery.js' (left as
//   that import, so a shop's bundler makes it a chunk and a CDN serves it from beside the entry);
// - dist/outbox.js and dist/script-transport.js, imported by the delivery module when first needed;
// - dist/trustpilot.global.js, the entry as a classic script for analytics-next remote plugins,
//   which loads the same dist/delivery.js from its own URL.
// Each is self-contained otherwise: analytics-next is used for types only.
// Beside them: dist/integrity.json, each of those files' SRI hash (integrityOf), and the Node command
// that prints a page's snippet from it, dist/integrity-snippet.js (COMMAND); docs/integrity.md.
//
// esbuild bundles and minifies; terser then compresses once more. Its names are chosen for gzip
// (most frequent characters first), which takes about 5% off the gzipped size esbuild alone gives,
// on a file every page of a shop downloads. scripts/size-breakdown.ts measures through `bundle()` too.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import { minify } from 'terser'

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

/**
 * The oldest browsers dist/ runs in, as esbuild names them: the build targets them, and
 * scripts/check-browser-floor.mjs fails CI when a built file needs more (esbuild must take each file
 * for exactly these targets without refusing or changing it). Each is the oldest version whose
 * syntax support, in esbuild's data (which records engine bugs too), covers what the code uses:
 * Chrome/Edge 91 for optional chaining (esbuild rewrites it for older V8s), Firefox 79 for logical
 * assignment (`??=`), Safari 14.1 / iOS 14.5 for destructuring (esbuild can't target 14.0). No Web API
 * raises it: Web Locks (Safari 15.4, Firefox 96) and keepalive fetch (Firefox 133) are optional, the
 * plugin works without them. docs/browsers.md explains each.
 */
export const BROWSER_FLOOR = ['chrome91', 'edge91', 'firefox79', 'safari14.1', 'ios14.5']

/**
 * Leaves `import('./delivery.js')` (in the entry), `import('./outbox.js')` and
 * `import('./script-transport.js')` (in the delivery module) as they are: each is a file of its own
 * in dist/, loaded from beside its importer.
 */
export const separateModules = {
  name: 'separate-modules',
  setup(build) {
    build.onResolve({ filter: /^\.\/(delivery|outbox|script-transport)\.js$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
    )
  },
}

/**
 * For every ES bundle but the entry: errors.ts is not bundled in but imported from the entry,
 * './index.js', so a page has one copy of each error class (the package exports them, `instanceof`
 * holds) whichever bundles it loads, and a page with no order fetches one file. Everything else a
 * later bundle needs is pure code with no identity, bundled into it.
 */
export const errorsFromEntry = {
  name: 'errors-from-entry',
  setup(build) {
    if (build.initialOptions.entryPoints.includes('src/index.ts')) return
    build.onResolve({ filter: /^\.\/errors\.js$/ }, () => ({ path: './index.js', external: true }))
  },
}

/**
 * What dist/ holds: entry file, format and output. The classic script inlines its own copy of the
 * error classes (a classic script can't import one); the delivery module it loads imports them from
 * dist/index.js.
 * @type {Array<[string, 'esm' | 'iife', string]>}
 */
export const OUTPUTS = [
  ['src/index.ts', 'esm', 'dist/index.js'],
  ['src/delivery.ts', 'esm', 'dist/delivery.js'],
  ['src/outbox.ts', 'esm', 'dist/outbox.js'],
  ['src/script-transport.ts', 'esm', 'dist/script-transport.js'],
  ['src/global.ts', 'iife', 'dist/trustpilot.global.js'],
]

/** The esbuild plugins one output is built with. */
export const pluginsFor = (format) => (format === 'esm' ? [separateModules, errorsFromEntry] : [separateModules])

/**
 * Bundles one entry the way dist/ is built and returns the code and its source map.
 * @param {string} entry
 * @param {'esm' | 'iife'} format
 * @param {string} outfile where the file will live (names the source map)
 * @param {esbuild.Plugin[]} [plugins] for measurements that transform the sources
 * @returns {Promise<{ code: string, map: string }>}
 */
export async function bundle(entry, format, outfile, plugins = []) {
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    sourcemap: 'external',
    target: BROWSER_FLOOR,
    format,
    outfile,
    define: { __VERSION__: JSON.stringify(version) },
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
    plugins,
  })
  const code = result.outputFiles.find((file) => file.path.endsWith('.js')).text
  const map = result.outputFiles.find((file) => file.path.endsWith('.map')).text
  const name = basename(outfile)
  const output = await minify(
    { [name]: code },
    {
      module: format === 'esm',
      ecma: 2022,
      compress: { passes: 3 },
      sourceMap: { content: map, url: `${name}.map`, includeSources: true },
    },
  )
  return { code: String(output.code), map: String(output.map) }
}

/** A file's Subresource Integrity value, from its bytes: `sha384-<base64>`. */
export const integrityOf = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`

/** Where the build writes every browser file's SRI value, keyed by its name relative to dist/. */
export const INTEGRITY = 'dist/integrity.json'

/** Builds one output, writes it and its source map, and returns the bytes it wrote. */
async function build(entry, format, outfile) {
  const { code, map } = await bundle(entry, format, outfile, pluginsFor(format))
  const bytes = Buffer.from(code)
  writeFileSync(outfile, bytes)
  writeFileSync(`${outfile}.map`, map)
  return bytes
}

/**
 * dist/relay.js, `analytics-plugin-trustpilot/relay`: server-side code for Node 20+, Cloudflare's
 * workerd, Deno and Bun, so no browser floor and no minifying: a shop's developer reads it in
 * node_modules and in stack traces. No browser bundle imports it.
 */
export const RELAY = ['src/server/relay.ts', 'dist/relay.js']

async function buildRelay([entry, outfile]) {
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'neutral',
    format: 'esm',
    target: 'es2022',
    outfile,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
  })
}

/**
 * dist/integrity-snippet.js, the package's `analytics-plugin-trustpilot-integrity` command: prints the
 * snippet a page pastes to pin every browser file by its hash (docs/integrity.md). A Node 20 script
 * with no dependency, no browser loads it: not in integrity.json, not held to the browser floor.
 * What it knows of dist/ comes from OUTPUTS, through `define`: the ES modules (the import map's
 * entries), the entry a page imports, and the classic script.
 */
export const COMMAND = ['bin/integrity-snippet.ts', 'dist/integrity-snippet.js']

/** dist/'s files a browser never loads: each server-side or command file (no browser floor, no hash). */
export const NODE_FILES = [RELAY[1], COMMAND[1]]

/** A dist/ file's name relative to dist/, as integrity.json and import maps name it. */
export const inDist = (outfile) => outfile.replace(/^dist\//, '')

async function buildCommand([entry, outfile]) {
  const modules = OUTPUTS.filter(([, format]) => format === 'esm').map(([, , file]) => inDist(file))
  const [, , classic] = OUTPUTS.find(([, format]) => format === 'iife')
  const [, , main] = OUTPUTS.find(([source]) => source === 'src/index.ts')
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    banner: { js: '#!/usr/bin/env node' },
    define: {
      __VERSION__: JSON.stringify(version),
      __FILES__: JSON.stringify({ modules, entry: inDist(main), classic: inDist(classic) }),
    },
    legalComments: 'none',
    logLevel: 'warning',
  })
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  // From empty: a file an earlier build wrote and this one doesn't would still be packed.
  rmSync('dist', { recursive: true, force: true })
  mkdirSync('dist', { recursive: true })
  const [written] = await Promise.all([
    Promise.all(OUTPUTS.map((output) => build(...output))),
    buildRelay(RELAY),
    buildCommand(COMMAND),
  ])
  // Hashed from the bytes just written, in OUTPUTS's order: what a browser checks them against.
  const integrity = Object.fromEntries(OUTPUTS.map(([, , outfile], i) => [inDist(outfile), integrityOf(written[i])]))
  writeFileSync(INTEGRITY, `${JSON.stringify(integrity, null, 2)}\n`)
  const files = [...OUTPUTS.map((output) => output[2]), RELAY[1], COMMAND[1], INTEGRITY]
  console.log(`built ${files.join(', ')} (v${version})`)
}
