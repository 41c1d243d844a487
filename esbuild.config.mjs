// Builds the two files a browser loads: dist/index.js (ES module, for bundlers and CDN imports) and
// dist/trustpilot.global.js (classic script for analytics-next remote plugins). Both are
// self-contained: analytics-next is used for types only, so nothing is imported at run time.
//
// esbuild bundles and minifies; terser then compresses once more. Its names are chosen for gzip
// (most frequent characters first), which saves about 5% of the gzipped size esbuild alone gives,
// on a file every page of a shop downloads.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename } from 'node:path'
import * as esbuild from 'esbuild'
import { minify } from 'terser'

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

async function build(entry, format, outfile) {
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
  writeFileSync(outfile, output.code)
  writeFileSync(`${outfile}.map`, output.map)
}

mkdirSync('dist', { recursive: true })
await Promise.all([
  build('src/index.ts', 'esm', 'dist/index.js'),
  build('src/global.ts', 'iife', 'dist/trustpilot.global.js'),
])
console.log(`built dist/index.js and dist/trustpilot.global.js (v${version})`)
