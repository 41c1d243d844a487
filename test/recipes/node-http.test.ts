/** example/relay/node-http.ts, run by Node as a shop runs it: mounted in a plain node:http server's handler. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { boundsChecks, freePort, launch, recipeEnv, relayChecks, served, shopProject } from './support'

const TSX = import.meta.resolve('tsx')

/** The recipe in a new shop's project, forwarding to `upstream`. */
async function start(upstream: { url: string }) {
  const shop = await shopProject()
  const file = await shop.add('node-http.ts')
  const port = await freePort()
  const server = launch(process.execPath, ['--import', TSX, file], {
    cwd: shop.dir,
    env: recipeEnv(upstream, port),
  })
  return served(shop, port, server)
}

describe('plain node:http (example/relay/node-http.ts)', () => {
  let url = ''
  relayChecks(
    async (standIn) => {
      const recipe = await start(standIn)
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

describe('plain node:http: bounded under a Trustpilot brownout, slow clients and buyers who leave', () => {
  boundsChecks(start, { slowBody: 'relay', after413: 'goes on' })
})
