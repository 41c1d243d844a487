/**
 * The analytics-next versions the browser tests run on: the pinned one (`@segment/analytics-next`,
 * bundled as e2e/.build/analytics-next.js, every page's default) and each npm alias in package.json
 * named `@segment/analytics-next-<version>` (bundled as e2e/.build/analytics-next-<version>.js, which a
 * page loads with `start({ analyticsNext: '<version>' })`). Read from package.json, so adding an alias
 * there adds its bundle.
 */
import { readFileSync } from 'node:fs'

const ALIAS = '@segment/analytics-next-'

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  devDependencies: Record<string, string>
}

/** The pinned analytics-next, exactly as package.json pins it: the latest the tests know. */
export const PINNED_ANALYTICS_NEXT = manifest.devDependencies['@segment/analytics-next']!

/** Each alias's package name and version, e.g. `['@segment/analytics-next-1.55.0', '1.55.0']`. */
export const ANALYTICS_NEXT_ALIASES: Array<[name: string, version: string]> = Object.keys(manifest.devDependencies)
  .filter((name) => name.startsWith(ALIAS))
  .map((name) => [name, name.slice(ALIAS.length)])

/**
 * What `start()` is given to run on `version`: the alias's bundle, or nothing for the pinned one
 * (the page's default). Throws for a version package.json doesn't install.
 */
export function analyticsNextOption(version: string): string | undefined {
  if (version === PINNED_ANALYTICS_NEXT) return undefined
  if (ANALYTICS_NEXT_ALIASES.some(([, v]) => v === version)) return version
  throw new Error(`analytics-next ${version} is not installed: add the alias ${ALIAS}${version} to package.json`)
}
