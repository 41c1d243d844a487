/**
 * Before the browser tests: check the built files exist (the tests load dist/ exactly as a user
 * does, so they must test what `npm run build` made), bundle analytics-next for the test pages, and
 * build the example shop.
 */
import { existsSync } from 'node:fs'
import * as esbuild from 'esbuild'
import { buildExample } from '../../scripts/start'

export default async function globalSetup() {
  for (const file of ['dist/index.js', 'dist/trustpilot.global.js']) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (npm test does).`)
  }
  await esbuild.build({
    entryPoints: ['e2e/support/analytics-next.entry.ts'],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    outfile: 'e2e/.build/analytics-next.js',
    logLevel: 'warning',
  })
  // Once, here: tests in parallel workers building it themselves could serve a half-written file.
  await buildExample()
}
