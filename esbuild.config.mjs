// Builds the two files a browser loads: dist/index.js (ES module, for bundlers and CDN imports) and
// dist/trustpilot.global.js (classic script for analytics-next remote plugins). Both are
// self-contained: analytics-next is used for types only, so nothing is imported at run time.
import { readFileSync } from 'node:fs'
import * as esbuild from 'esbuild'

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))

const common = {
  bundle: true,
  minify: true,
  sourcemap: true,
  target: 'es2020',
  define: { __VERSION__: JSON.stringify(version) },
  legalComments: 'none',
  logLevel: 'warning',
}

await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: ['src/index.ts'],
    format: 'esm',
    outfile: 'dist/index.js',
  }),
  esbuild.build({
    ...common,
    entryPoints: ['src/global.ts'],
    format: 'iife',
    outfile: 'dist/trustpilot.global.js',
  }),
])
console.log(`built dist/index.js and dist/trustpilot.global.js (v${version})`)
