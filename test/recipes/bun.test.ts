/**
 * example/relay/bun.ts on Bun, when a Bun binary is here: BUN_BIN, the npm package `bun` (its
 * platform package, e.g. @oven/bun-linux-x64, holds the binary; the package's own bin is a stub until
 * its install script runs), or `bun` on PATH.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { findBun, freePort, isDevDependency, launch, recipeEnv, relayChecks, served, shopProject } from './support'

const { bin: bun, missing } = findBun()

// Skipped without a binary; once `bun` is a devDependency, a missing binary fails the first test instead.
describe('Bun (example/relay/bun.ts)', { skip: !bun && !isDevDependency('bun') && missing }, () => {
  test('a Bun binary is here', () => assert.ok(bun, missing))
})

describe('Bun, served (example/relay/bun.ts)', { skip: !bun && missing }, () => {
  relayChecks(
    async (standIn) => {
      const shop = await shopProject()
      const file = await shop.add('bun.ts')
      const port = await freePort()
      // --no-install: the project's node_modules only, never the registry.
      const server = launch(bun as string, ['--no-install', file], {
        cwd: shop.dir,
        env: { ...recipeEnv(standIn, port), DO_NOT_TRACK: '1' },
      })
      return served(shop, port, server)
    },
    { get: { status: 405, by: 'relay' } },
  )
})
