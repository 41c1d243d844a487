/**
 * A Next.js App Router shop built from the packed package, as shops write one: a client component
 * ('use client') creates the plugin at module scope with `endpoint: '/trustpilot'` and loads
 * analytics-next in an effect, and the relay's recipe (example/relay/next/) serves /trustpilot. Next
 * evaluates that module on the server too, where `next build` prerenders the page.
 *
 * `next build` takes up to a minute or two on a 2-core machine, and every worker of every browser project
 * needs the same build: it is made once per run, by the first worker to ask, in the directory global
 * setup named (and its teardown removes); a lock keeps the others waiting for it. Each worker
 * serves it with its own `next start`, with the relay's upstream pointed at its own stand-in.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { API_KEY } from '../../test/support/fixtures'
import { freePort, launch, listening, run } from '../../test/support/processes'
import { NO_TELEMETRY, nextApp, nextBin, type Shop } from '../../test/support/shop-project'

/** Names, to the workers, the directory global setup reserved for this run's build. */
const RUN_DIR = 'TRUSTPILOT_NEXT_SHOP_DIR'

/** The shop's analytics module: the plugin made at module scope, analytics-next loaded in an effect. */
const SHOP_ANALYTICS = `'use client'
import { AnalyticsBrowser } from '@segment/analytics-next'
import { onTrustpilotOutcome, trustpilot } from 'analytics-plugin-trustpilot'
import { useEffect, useState } from 'react'

// At module scope, as a shop's analytics module makes it: Next runs this on the server too.
const trustpilotPlugin = trustpilot({ apiKey: ${JSON.stringify(API_KEY)}, endpoint: '/trustpilot' })

export function ShopAnalytics() {
  const [loaded, setLoaded] = useState(false)
  useEffect(() => {
    const page = window as any
    page.outcomes = []
    // Offline: Segment's settings given, so nothing is asked of Segment's CDN; Segment.io off.
    const analytics = AnalyticsBrowser.load(
      {
        writeKey: 'test-write-key',
        cdnSettings: { integrations: { 'Segment.io': { apiKey: 'test-write-key' } }, metrics: { sampleRate: 0 } },
      },
      { integrations: { 'Segment.io': false } },
    )
    analytics.register(trustpilotPlugin)
    onTrustpilotOutcome(analytics, ({ status, referenceId, reason }) => page.outcomes.push({ status, referenceId, reason }))
    analytics.then(([instance]) => {
      page.analytics = instance
      setLoaded(true)
    })
  }, [])
  return <p id="analytics">{loaded ? 'analytics loaded' : 'analytics not loaded'}</p>
}
`

const LAYOUT = `import type { ReactNode } from 'react'

// No favicon request: a 404 would be noise in the browser's console.
export const metadata = { title: 'Shop', icons: { icon: 'data:,' } }

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  )
}
`

/** What the server renders: a heading, and the client component. */
export const PAGE_HEADING = 'Thank you for your order'
const PAGE = `import { ShopAnalytics } from './shop-analytics'

export default function ThankYou() {
  return (
    <main>
      <h1>${PAGE_HEADING}</h1>
      <ShopAnalytics />
    </main>
  )
}
`

export interface NextShop {
  dir: string
  /** What `next build` printed. */
  buildOutput: string
  /** The routes `next build` prerendered (its prerender manifest). */
  prerendered: string[]
}

/** Where each run builds its shop: a directory of tmpdir named with this prefix. */
const RUN_DIR_PREFIX = 'trustpilot-next-shop-'
/** A run's directory this old was left by a run killed before its teardown. */
const STALE_MS = 3_600_000

/**
 * In global setup: names this run's directory for the build (made only if a worker builds, so a run
 * without this spec leaves nothing), removes those killed runs left, and returns the teardown that
 * removes this run's.
 */
export async function reserveNextShop(): Promise<() => Promise<void>> {
  for (const entry of (await readdir(tmpdir())).filter((name) => name.startsWith(RUN_DIR_PREFIX))) {
    const path = join(tmpdir(), entry)
    const old = await stat(path).then(
      (s) => Date.now() - s.mtimeMs > STALE_MS,
      () => false,
    )
    if (old) await rm(path, { recursive: true, force: true })
  }
  const dir = join(tmpdir(), `${RUN_DIR_PREFIX}${process.pid}-${Date.now()}`)
  process.env[RUN_DIR] = dir
  return () => rm(dir, { recursive: true, force: true })
}

/** Writes the shop into a project (the package packed and installed, the relay's recipe in), and builds it. */
async function build(shop: Shop): Promise<NextShop> {
  await writeFile(join(shop.dir, 'app', 'layout.tsx'), LAYOUT)
  await writeFile(join(shop.dir, 'app', 'page.tsx'), PAGE)
  await writeFile(join(shop.dir, 'app', 'shop-analytics.tsx'), SHOP_ANALYTICS)
  // The relay's module is loaded at build too, so it needs its variables here; the origin and the
  // upstream that count are the ones `next start` is given.
  const buildOutput = await run(process.execPath, [nextBin(shop), 'build'], {
    cwd: shop.dir,
    env: { ...NO_TELEMETRY, TRUSTPILOT_API_KEY: API_KEY, SHOP_ORIGIN: 'http://127.0.0.1' },
  })
  const manifest = JSON.parse(await readFile(join(shop.dir, '.next', 'prerender-manifest.json'), 'utf8'))
  return { dir: shop.dir, buildOutput, prerendered: Object.keys(manifest.routes ?? {}) }
}

/**
 * This run's build: made by the first worker to ask, which the others wait for. A failed build is
 * kept as its error, so a waiting worker fails with it instead of building again.
 */
export async function builtNextShop(): Promise<NextShop> {
  const runDir = process.env[RUN_DIR]
  // Outside Playwright's global setup (no reserved directory): a build of this process's own.
  if (!runDir) return build(await nextApp())
  const result = join(runDir, 'build.json')
  const lock = join(runDir, 'building')
  await mkdir(runDir, { recursive: true })
  for (;;) {
    if (existsSync(result)) {
      const built = JSON.parse(await readFile(result, 'utf8')) as NextShop | { error: string }
      if ('error' in built) throw new Error(built.error)
      return built
    }
    try {
      await mkdir(lock)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      await new Promise((resolve) => setTimeout(resolve, 500))
      continue
    }
    try {
      const built = await build(await nextApp({ at: join(runDir, 'shop') }))
      await writeFile(result, JSON.stringify(built))
      return built
    } catch (error) {
      await writeFile(result, JSON.stringify({ error: (error as Error).message }))
      throw error
    }
  }
}

/** The built shop served by `next start` on 127.0.0.1, its relay forwarding to `upstream`. */
export async function startNextShop(shop: NextShop, upstream: string) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const server = launch(process.execPath, [nextBin(shop), 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: shop.dir,
    env: { ...NO_TELEMETRY, TRUSTPILOT_API_KEY: API_KEY, SHOP_ORIGIN: url, TRUSTPILOT_UPSTREAM: upstream },
  })
  await listening(port, server, 60_000)
  return { url, output: server.output, stop: server.stop }
}
