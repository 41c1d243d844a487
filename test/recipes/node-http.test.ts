/** example/relay/node-http.ts, run by Node as a shop runs it: mounted in a plain node:http server's handler. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { boundsChecks, relayChecks, startNodeRecipe } from './support'

const start = (upstream: { url: string }) => startNodeRecipe('node-http.ts', upstream)

describe('plain node:http (example/relay/node-http.ts)', () => {
  const url = relayChecks(start, { get: { status: 405, by: 'relay' } })
  test("the shop's own routes stay the shop's", async () => {
    const answer = await fetch(`${url()}/checkout`)
    assert.equal(answer.status, 404)
    assert.equal(await answer.text(), 'Not found\n')
  })
})

describe('plain node:http: bounded under a Trustpilot brownout, slow clients and buyers who leave', () => {
  boundsChecks(start, { slowBody: 'relay', after413: 'goes on' })
})
