// Builds the two files a browser loads: dist/index.js (ES module, for bundlers and CDN imports) and
// dist/trustpilot.global.js (classic script for analytics-next remote plugins). Both are
// self-contained: analytics-next is used for types only, so nothing is imported at run time.
//
// esbuild bundles and minifies; terser then compresses once more. Its names are chosen for gzip
// (most frequent characters first), which takes about 5% off the gzipped size esbuild alone gives,
// on a file every page of a shop downloads. scripts/size-breakdown.ts measures through `bundle()` too.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import { minify } from 'terser'

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

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
    target: 'es2022',
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

async function build(entry, format, outfile) {
  const { code, map } = await bundle(entry, format, outfile)
  writeFileSync(outfile, code)
  writeFileSync(`${outfile}.map`, map)
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  mkdirSync('dist', { recursive: true })
  await Promise.all([
    build('src/index.ts', 'esm', 'dist/index.js'),
    build('src/global.ts', 'iife', 'dist/trustpilot.global.js'),
  ])
  console.log(`built dist/index.js and dist/trustpilot.global.js (v${version})`)
}
