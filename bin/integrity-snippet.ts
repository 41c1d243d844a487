/**
 * `analytics-plugin-trustpilot-integrity`, shipped as dist/integrity-snippet.js (esbuild.config.mjs
 * builds it): prints the HTML a page pastes to load this version of the plugin from a URL with every
 * file pinned by its Subresource Integrity hash, read from this package's own dist/integrity.json.
 * So a shop never copies a hash by hand, and the hashes are always those of the version installed.
 *
 *   npx analytics-plugin-trustpilot@0.1.0 --base https://cdn.jsdelivr.net/npm/analytics-plugin-trustpilot@0.1.0/dist/ --route module
 *
 * Node 20, no dependency. Wrong arguments: a message on stderr and exit code 2; no readable
 * integrity.json beside it: exit code 1. docs/integrity.md explains what it prints.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

/** The package's version, and which of dist/'s files are what, both set by the build from esbuild.config.mjs. */
declare const __VERSION__: string
declare const __FILES__: { modules: string[]; entry: string; classic: string }

const NAME = 'analytics-plugin-trustpilot-integrity'
const PACKAGE = 'analytics-plugin-trustpilot'
const ROUTES = ['module', 'classic'] as const
type Route = (typeof ROUTES)[number]

const USAGE = `Usage: ${NAME} --base <URL of dist/> --route <module|classic> [--nonce <value>]

Prints the HTML a page pastes to load ${PACKAGE} ${__VERSION__} from <URL of dist/>
with every file it loads pinned by its SRI hash (from this package's dist/integrity.json):

  --route module   an inline import map with the integrity of each ES module, then import() of ${__FILES__.entry}
  --route classic  the same import map, then <script src integrity crossorigin> of ${__FILES__.classic}
  --nonce <value>  nonce="<value>" on each <script>, for a nonce-based CSP (your template's placeholder)
  --help           this text

Example:
  ${NAME} --base https://cdn.jsdelivr.net/npm/${PACKAGE}@${__VERSION__}/dist/ --route module`

/** Wrong arguments: said on stderr with a pointer to --help, exit code 2. */
class UsageError extends Error {}

const attribute = (value: string) =>
  value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** The URL of dist/, ending in '/', checked: files of one version only, joined by plain URL. */
function baseOf(text: string): URL {
  let base: URL
  try {
    base = new URL(text)
  } catch {
    throw new UsageError(
      `--base must be an absolute URL of the package's dist/ folder (https://…/dist/), not "${text}"`,
    )
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:')
    throw new UsageError(`--base must be an http(s) URL, not "${text}"`)
  if (base.search || base.hash)
    throw new UsageError(
      `--base must have no query or fragment ("${text}"): the files import each other by their plain URLs`,
    )
  // A version on an npm CDN's URL (…/analytics-plugin-trustpilot@<version>/…) must be exactly this one:
  // a range or tag (@0, @latest) serves other bytes the day another version is published.
  const named = new RegExp(`/${PACKAGE}@([^/]*)/`).exec(decodeURIComponent(base.pathname))?.[1]
  if (named !== undefined && named !== __VERSION__)
    throw new UsageError(
      `--base names ${PACKAGE}@${named}, but these hashes are version ${__VERSION__}'s: ` +
        `pin the exact version in the URL, and run the command of the version you load (npx ${PACKAGE}@<version> …)`,
    )
  if (!base.pathname.endsWith('/')) base.pathname += '/'
  return base
}

function readIntegrity(): Record<string, string> {
  const file = new URL('./integrity.json', import.meta.url)
  let integrity: unknown
  try {
    integrity = JSON.parse(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new Error(`cannot read ${file.pathname}: ${(error as Error).message}`)
  }
  const files = [...__FILES__.modules, __FILES__.classic]
  const missing = files.filter((name) => typeof (integrity as Record<string, unknown>)?.[name] !== 'string')
  if (missing.length) throw new Error(`${file.pathname} has no hash for ${missing.join(', ')}`)
  return integrity as Record<string, string>
}

/** The page's HTML for one route: the import map, then the script that loads and registers the plugin. */
function snippet(integrity: Record<string, string>, base: URL, route: Route, nonce?: string): string {
  const url = (file: string) => new URL(file, base).href
  // Under a nonce-based CSP every <script> the page writes needs the nonce, the import map's and the tag's too.
  const open = nonce === undefined ? '<script' : `<script nonce="${attribute(nonce)}"`
  const map = { integrity: Object.fromEntries(__FILES__.modules.map((file) => [url(file), integrity[file]])) }
  const lines = [
    `<!-- ${PACKAGE} ${__VERSION__}, every file pinned (docs/integrity.md). The import map comes before any module`,
    `     script or import() on the page; if the page has an import map already, add these entries to it. -->`,
    `${open} type="importmap">`,
    JSON.stringify(map, null, 2),
    '</script>',
  ]
  if (route === 'module') {
    lines.push(
      `${open}>`,
      `  import(${JSON.stringify(url(__FILES__.entry))}).then(({ trustpilot }) =>`,
      `    analytics.register(trustpilot({ apiKey: '<TRUSTPILOT_INTEGRATION_KEY>' })),`,
      '  )',
      '</script>',
    )
  } else {
    const src = attribute(url(__FILES__.classic))
    lines.push(
      `${open} src="${src}" integrity="${integrity[__FILES__.classic]}" crossorigin="anonymous"></script>`,
      `${open}>`,
      `  analytics.register(trustpilotDestination({ apiKey: '<TRUSTPILOT_INTEGRATION_KEY>' }))`,
      '</script>',
    )
  }
  return `${lines.join('\n')}\n`
}

function main(args: string[]): string {
  let values: { base?: string; route?: string; nonce?: string; help?: boolean }
  try {
    ;({ values } = parseArgs({
      args,
      options: {
        base: { type: 'string' },
        route: { type: 'string' },
        nonce: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help) return `${USAGE}\n`
  if (values.base === undefined) throw new UsageError('--base <URL of dist/> is required')
  if (!ROUTES.includes(values.route as Route))
    throw new UsageError(
      values.route === undefined
        ? '--route module|classic is required'
        : `--route must be "module" or "classic", not "${values.route}"`,
    )
  return snippet(readIntegrity(), baseOf(values.base), values.route as Route, values.nonce)
}

try {
  process.stdout.write(main(process.argv.slice(2)))
} catch (error) {
  process.stderr.write(`${NAME}: ${(error as Error).message}\n`)
  if (error instanceof UsageError) process.stderr.write(`Run ${NAME} --help for usage.\n`)
  process.exitCode = error instanceof UsageError ? 2 : 1
}
