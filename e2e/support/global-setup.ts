/**
 * Before the browser tests: check the built files exist (the tests load dist/ exactly as a user
 * does, so they must test what `npm run build` made) and bundle analytics-next for the test pages:
 * the pinned version as e2e/.build/analytics-next.js, each version package.json installs as an alias
 * as e2e/.build/analytics-next-<version>.js, and Segment's consent tools as
 * e2e/.build/analytics-consent-tools.js (`window.AnalyticsConsentTools`); build the example shop; and
 * name the directory the Next.js shop is built in (its teardown, returned, removes it).
 */
import { existsSync } from 'node:fs'
import * as esbuild from 'esbuild'
import { buildExample } from '../../scripts/start'
import { ANALYTICS_NEXT_ALIASES } from './analytics-versions'
import { reserveNextShop } from './next-shop'

const forPages: esbuild.BuildOptions = {
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  logLevel: 'warning',
}

/** A bundle of `code`, resolved from e2e/support, as a classic script. */
const bundle = (code: string, outfile: string) =>
  esbuild.build({ ...forPages, stdin: { contents: code, resolveDir: 'e2e/support', loader: 'ts' }, outfile })

export default async function globalSetup() {
  for (const file of ['dist/index.js', 'dist/trustpilot.global.js', 'dist/relay.js']) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first (npm test does).`)
  }
  await Promise.all([
    esbuild.build({
      ...forPages,
      entryPoints: ['e2e/support/analytics-next.entry.ts'],
      outfile: 'e2e/.build/analytics-next.js',
    }),
    ...ANALYTICS_NEXT_ALIASES.map(([name, version]) =>
      bundle(
        `import { AnalyticsBrowser } from '${name}'\n;(window as any).AnalyticsBrowser = AnalyticsBrowser`,
        `e2e/.build/analytics-next-${version}.js`,
      ),
    ),
    bundle(
      `import { createWrapper, resolveWhen } from '@segment/analytics-consent-tools'
;(window as any).AnalyticsConsentTools = { createWrapper, resolveWhen }`,
      'e2e/.build/analytics-consent-tools.js',
    ),
  ])
  // Once, here: tests in parallel workers building it themselves could serve a half-written file.
  await buildExample()
  // Where a worker builds the Next.js shop, once for the run (e2e/next-ssr.spec.ts); removed after it.
  return reserveNextShop()
}
