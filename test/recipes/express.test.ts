/** example/relay/express.ts, run by Node as a shop runs it: Express 5, with express.json() before the relay. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { freePort, launch, recipeEnv, relayChecks, served, shopProject } from './support'

const TSX = import.meta.resolve('tsx')

describe('Express 5 (example/relay/express.ts)', () => {
  let url = ''
  relayChecks(
    async (standIn) => {
      const shop = await shopProject(['express'])
      const file = await shop.add('express.ts')
      const port = await freePort()
      const server = launch(process.execPath, ['--import', TSX, file], {
        cwd: shop.dir,
        env: { ...recipeEnv(standIn, port), NODE_ENV: 'production' },
      })
      const recipe = await served(shop, port, server)
      url = recipe.url
      return recipe
    },
    // The relay's route is app.post(): Express answers other methods itself, as for any path it has no route for.
    { get: { status: 404, by: 'Express' } },
  )
  test('a POST outside /trustpilot/ is not the relay’s', async () => {
    const answer = await fetch(`${url}/api/recipe-integration-key/invitation`, { method: 'POST' })
    assert.equal(answer.status, 404)
    assert.doesNotMatch(await answer.text(), /Trustpilot relay/)
  })
})
