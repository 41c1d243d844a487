/**
 * Serves msw request handlers as a real HTTP server on 127.0.0.1, with msw's own
 * @mswjs/http-middleware. The browser tests point the plugin's `endpoint` at it, so the very handlers
 * the Node tests use answer real requests in every engine. (Routing into the page can't serve them:
 * under WebDriver BiDi, Playwright gives routes no request body.)
 */
import type { AddressInfo } from 'node:net'
import { createServer } from '@mswjs/http-middleware'
import type { RequestHandler } from 'msw'

export interface HandlerServer {
  /** The server's origin, e.g. http://127.0.0.1:41234: what the plugin's `endpoint` is set to. */
  url: string
  close(): Promise<void>
}

export async function serveHandlers(handlers: RequestHandler[]): Promise<HandlerServer> {
  const server = createServer(...handlers).listen(0, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve)
    server.once('error', reject)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // A handler that hangs holds its connection open: end those too.
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
