/**
 * example/relay/next/ built and served as a shop's Next.js app is: `next build` (Turbopack, with its
 * type check), then `next start` on 127.0.0.1, importing the packed package as a shop's app does.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  API_KEY,
  freePort,
  launch,
  listening,
  recipeEnv,
  relayChecks,
  run,
  SHOP_ORIGIN,
  type Shop,
  shopProject,
} from './support'

const ROUTE = 'app/trustpilot/[...path]/route.ts'
/** Next must not phone home from a test. */
const NO_TELEMETRY = { NEXT_TELEMETRY_DISABLED: '1' }

const nextBin = (shop: Shop) => join(shop.dir, 'node_modules', 'next', 'dist', 'bin', 'next')

async function nextApp(): Promise<Shop> {
  const shop = await shopProject(['next', 'react', 'react-dom', 'typescript', '@types/react', '@types/node'])
  await shop.add(join('next', ROUTE), ROUTE)
  // The test's own, not the recipe's: this project's node_modules are links into the repository, and
  // Turbopack compiles nothing outside its root (a shop's installed node_modules are inside it).
  await writeFile(join(shop.dir, 'next.config.mjs'), "export default { turbopack: { root: '/' } }\n")
  return shop
}

describe('Next.js App Router (example/relay/next/app/trustpilot/[...path]/route.ts)', () => {
  test('`next build` loads the route: without its variables, the build fails naming the option', async () => {
    const shop = await nextApp()
    try {
      await assert.rejects(
        run(process.execPath, [nextBin(shop), 'build'], {
          cwd: shop.dir,
          env: { ...NO_TELEMETRY, TRUSTPILOT_API_KEY: '', SHOP_ORIGIN: '' },
        }),
        /Trustpilot relay: option "apiKeys" is required/,
      )
    } finally {
      await shop.remove()
    }
  })
})

describe('Next.js App Router, built and started (example/relay/next/app/trustpilot/[...path]/route.ts)', () => {
  relayChecks(
    async (standIn) => {
      const shop = await nextApp()
      // The build gets what a shop's build environment has: the key and origin. The upstream and the
      // port are the running server's alone: `next start` reads the environment again.
      await run(process.execPath, [nextBin(shop), 'build'], {
        cwd: shop.dir,
        env: { ...NO_TELEMETRY, TRUSTPILOT_API_KEY: API_KEY, SHOP_ORIGIN },
      })
      const port = await freePort()
      const server = launch(process.execPath, [nextBin(shop), 'start', '-H', '127.0.0.1', '-p', String(port)], {
        cwd: shop.dir,
        env: { ...NO_TELEMETRY, ...recipeEnv(standIn, port) },
      })
      await listening(port, server, 60_000)
      return {
        url: `http://127.0.0.1:${port}`,
        async stop() {
          await server.stop()
          await shop.remove()
        },
      }
    },
    // Next answers a method the route does not export before the route runs.
    { get: { status: 405, by: 'Next.js' } },
  )
})
