/**
 * A shop's project: the packed package installed into a new temporary directory as a shop's
 * `npm install` would leave it, with the repository's copies of what else the shop depends on
 * (express, next, ...). The recipe tests (test/recipes/) run the relay's recipes in one; the browser
 * tests build a Next.js shop in one (e2e/support/next-shop.ts).
 */
import { rmSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { installConsumer, pack, REPO } from '../../e2e/support/pack'

export const RECIPES = join(REPO, 'example', 'relay')

/** Projects made here and not yet removed: removed when the test process exits, even after a failure. */
const projects = new Set<string>()
process.on('exit', () => {
  for (const dir of projects) rmSync(dir, { recursive: true, force: true })
})

/** A shop's project: the packed package in its node_modules, beside the repository's copies of `links`. */
export interface Shop {
  dir: string
  /** Copies a recipe file (a path under example/relay/) into the project, at `to` (default: the same path). */
  add(recipe: string, to?: string): Promise<string>
  remove(): Promise<void>
}

/**
 * Makes a shop's project in a new temporary directory, as `npm install` would leave it: the package
 * from its `npm pack`ed tarball (exactly the files that would be published), and `links` (express,
 * next, ...) linked from the repository's node_modules. Nothing is kept across runs.
 * With `at`, an empty directory, the project is made there instead and is the caller's to remove
 * (another process may still be using it when this one exits).
 */
export async function shopProject(links: string[] = [], { at }: { at?: string } = {}): Promise<Shop> {
  const dir = at ?? (await mkdtemp(join(tmpdir(), 'trustpilot-recipe-')))
  if (at) await mkdir(at, { recursive: true })
  else projects.add(dir)
  await installConsumer(await pack(dir), dir)
  for (const name of links) {
    await mkdir(dirname(join(dir, 'node_modules', name)), { recursive: true })
    await symlink(join(REPO, 'node_modules', name), join(dir, 'node_modules', name), 'dir')
  }
  const dependencies = Object.fromEntries(['analytics-plugin-trustpilot', ...links].map((name) => [name, '*']))
  await writeFile(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module', dependencies }))
  return {
    dir,
    async add(recipe, to = recipe) {
      const target = join(dir, to)
      await mkdir(dirname(target), { recursive: true })
      await copyFile(join(RECIPES, recipe), target)
      return target
    },
    async remove() {
      await rm(dir, { recursive: true, force: true })
      projects.delete(dir)
    },
  }
}

/** The relay's recipe for Next.js's App Router: every path under /trustpilot. */
export const NEXT_RELAY_ROUTE = 'app/trustpilot/[...path]/route.ts'
/** Next must not phone home from a test. */
export const NO_TELEMETRY = { NEXT_TELEMETRY_DISABLED: '1' }

/** The `next` command of a shop's project, run with Node: `node <nextBin> build`. */
export const nextBin = (shop: { dir: string }) => join(shop.dir, 'node_modules', 'next', 'dist', 'bin', 'next')

/** A shop's Next.js App Router project with the relay's recipe at /trustpilot; `at` as for shopProject. */
export async function nextApp(options: { at?: string } = {}): Promise<Shop> {
  const shop = await shopProject(['next', 'react', 'react-dom', 'typescript', '@types/react', '@types/node'], options)
  await shop.add(join('next', NEXT_RELAY_ROUTE), NEXT_RELAY_ROUTE)
  // The test's own, not the recipe's: this project's node_modules are links into the repository, and
  // Turbopack compiles nothing outside its root (a shop's installed node_modules are inside it).
  await writeFile(join(shop.dir, 'next.config.mjs'), "export default { turbopack: { root: '/' } }\n")
  return shop
}
