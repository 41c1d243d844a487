/** example/relay/express.ts, run by Node as a shop runs it: Express 5, with express.json() before the relay. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { boundsChecks, relayChecks, startNodeRecipe } from './support'

const start = (upstream: { url: string }) =>
  startNodeRecipe('express.ts', upstream, { dependencies: ['express'], env: { NODE_ENV: 'production' } })

describe('Express 5 (example/relay/express.ts)', () => {
  const url = relayChecks(
    start,
    // The relay's route is app.post(): Express answers other methods itself, as for any path it has no route for.
    { get: { status: 404, by: 'Express' } },
  )
  test('a POST outside /trustpilot/ is not the relay’s', async () => {
    const answer = await fetch(`${url()}/api/recipe-integration-key/invitation`, { method: 'POST' })
    assert.equal(answer.status, 404)
    assert.doesNotMatch(await answer.text(), /Trustpilot relay/)
  })
})

// express.json() reads a JSON body before the relay: the server's requestTimeout bounds a slow one.
describe('Express 5: bounded under a Trustpilot brownout, slow clients and buyers who leave', () => {
  boundsChecks(start, { slowBody: 'server', after413: 'goes on' })
})
