/** example/relay/node-http.ts, run by Node as a shop runs it: mounted in a plain node:http server's handler. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { freePort, launch, recipeEnv, relayChecks, served, shopProject } from './support'

const TSX = import.meta.resolve('tsx')

describe('plain node:http (example/relay/node-http.ts)', () => {
  let url = ''
  relayChecks(
    async (standIn) => {
      const shop = await shopProject()
      const file = await shop.add('node-http.ts')
      const port = await freePort()
      const server = launch(process.execPath, ['--import', TSX, file], {
        cwd: shop.dir,
        env: recipeEnv(standIn, port),
      })
      const recipe = await served(shop, port, server)
      url = recipe.url
      return recipe
    },
    { get: { status: 405, by: 'relay' } },
  )
  test("the shop's own routes stay the shop's", async () => {
    const answer = await fetch(`${url}/checkout`)
    assert.equal(answer.status, 404)
    assert.equal(await answer.text(), 'Not found\n')
  })
})
