/**
 * example/relay/deno.ts on Deno, when a Deno binary is here: DENO_BIN, the npm package `deno` (its
 * platform package, e.g. @deno/linux-x64-glibc, holds the binary; no install script needed), or
 * `deno` on PATH. Type-checked by Deno's own `deno check`, then served with narrowed permissions.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  denoEnv,
  findDeno,
  freePort,
  isDevDependency,
  launch,
  recipeEnv,
  relayChecks,
  run,
  served,
  shopProject,
} from './support'

const { bin: deno, missing } = findDeno()

/** Skipped without a binary; once `deno` is a devDependency, a missing binary fails the first test instead. */
const withoutDeno = { skip: !deno && missing }

describe('Deno (example/relay/deno.ts)', { skip: !deno && !isDevDependency('deno') && missing }, () => {
  test('a Deno binary is here', () => assert.ok(deno, missing))
  test(
    '`deno check` type-checks the recipe against Deno’s own types and the packed declarations',
    withoutDeno,
    async () => {
      const shop = await shopProject()
      try {
        const file = await shop.add('deno.ts')
        await run(deno as string, ['check', file], { cwd: shop.dir, env: denoEnv(shop.dir) })
      } finally {
        await shop.remove()
      }
    },
  )
})

describe('Deno, served (example/relay/deno.ts)', withoutDeno, () => {
  relayChecks(
    async (standIn) => {
      const shop = await shopProject()
      const file = await shop.add('deno.ts')
      const port = await freePort()
      const env = recipeEnv(standIn, port)
      // The recipe's permissions, with the network narrowed to its own port and the stand-in's.
      const server = launch(
        deno as string,
        [
          'run',
          '--no-prompt',
          `--allow-net=127.0.0.1:${port},127.0.0.1:${standIn.port}`,
          `--allow-env=${Object.keys(env).join(',')}`,
          file,
        ],
        { cwd: shop.dir, env: { ...env, ...denoEnv(shop.dir) } },
      )
      return served(shop, port, server)
    },
    { get: { status: 405, by: 'relay' } },
  )
})
