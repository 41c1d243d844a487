/**
 * example/relay/next/ built and served as a shop's Next.js app is: `next build` (Turbopack, with its
 * type check), then `next start` on 127.0.0.1, importing the packed package as a shop's app does.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  API_KEY,
  freePort,
  launch,
  listening,
  NO_TELEMETRY,
  nextApp,
  nextBin,
  recipeEnv,
  relayChecks,
  run,
  SHOP_ORIGIN,
} from './support'

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
