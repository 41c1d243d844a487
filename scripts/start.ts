/**
 * `npm start`: builds the example shop and serves it on 127.0.0.1 with a local Trustpilot stand-in,
 * so an order placed there shows the invitation requests Trustpilot would receive. With
 * TRUSTPILOT_API_KEY set, the shop uses that key against the real Trustpilot instead.
 */
import type { ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import { type StandIn, startStandIn } from './stand-in'
import { startStaticServer } from './static-server'

export async function buildExample() {
  await esbuild.build({
    entryPoints: ['example/shop.ts'],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: 'example/build/shop.js',
    logLevel: 'warning',
  })
}

export async function startExample(port = Number(process.env.PORT ?? 5173)) {
  const realKey = process.env.TRUSTPILOT_API_KEY
  const standIn: StandIn | undefined = realKey ? undefined : await startStandIn(Number(process.env.STAND_IN_PORT ?? 0))
  const config = JSON.stringify(
    realKey ? { apiKey: realKey } : { apiKey: 'example-integration-key', endpoint: standIn?.url },
  )
  // Server-sent events of what the stand-in received, for the page's "What Trustpilot receives".
  const streams = new Set<ServerResponse>()
  standIn?.onRecord.add((record) => {
    const data = `data: ${JSON.stringify({ status: record.status, body: record.body })}\n\n`
    for (const res of streams) res.write(data)
  })
  const site = await startStaticServer('example', port, {
    handle(url, res) {
      if (url.pathname === '/config.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(config)
        return true
      }
      if (url.pathname === '/stand-in/events' && standIn) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' })
        res.write(': connected\n\n')
        streams.add(res)
        res.on('close', () => streams.delete(res))
        return true
      }
      return false
    },
  })
  return {
    url: site.url,
    standIn,
    async close() {
      for (const res of streams) res.end()
      await site.close()
      await standIn?.close()
    },
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildExample()
  const example = await startExample()
  console.log(`Example shop: ${example.url}`)
  console.log(
    example.standIn
      ? `Trustpilot stand-in: ${example.standIn.url} (set TRUSTPILOT_API_KEY to use the real Trustpilot)`
      : 'Using the real Trustpilot with TRUSTPILOT_API_KEY',
  )
}
