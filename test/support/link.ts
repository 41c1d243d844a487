/**
 * A network link, modelled inside a node:http server on loopback: what the client at the far end of a
 * real connection waits for. The bench's first-POST measure (scripts/bench/first-post.ts) gives one to
 * each server it starts: the shop's origin (test/support/static-server.ts, with the relay), Trustpilot's
 * stand-in and its simplicity page (test/support/stand-in.ts).
 *
 * - Each way takes `oneWayMs`: a request waits that long before the server's handler sees it
 *   (`arrive`), and every byte the server writes waits that long before it leaves the socket, so the
 *   client sees the answer `oneWayMs` after the server gave it.
 * - A new connection first costs `handshakeRoundTrips` round trips (2: TCP, then TLS 1.3), counted
 *   from the moment it was opened: a request on it can't have left the client before they were over.
 *   A request on a kept-alive connection pays none of it, as on a real network.
 *
 * The client on loopback connects and sends at once, so the moment a connection is accepted stands
 * for the moment the client began to open it, and the moment a request arrives for the moment it was
 * sent. DNS is not modelled.
 */
import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'

export interface Link {
  /** Milliseconds each way; 0: no delay at all (handshakes included). */
  oneWayMs: number
  /** Round trips a new connection costs before its first request can be sent. */
  handshakeRoundTrips: number
}

export const NO_LINK: Link = { oneWayMs: 0, handshakeRoundTrips: 0 }

/** What `arrive` tells of a request, once the server may see it. */
export interface Arrival {
  /** The first request on its connection: it paid the handshake. */
  newConnection: boolean
}

type Write = Socket['write']

/**
 * Applies `link()` (read per request and per write, so a caller may set it after the server started)
 * to every connection `server` accepts. Returns `arrive`: the handler awaits it before it looks at a
 * request, and must not read the request before.
 */
export function modelLink(server: Server, link: () => Link): (req: IncomingMessage) => Promise<Arrival> {
  const opened = new WeakMap<Socket, number>()
  const served = new WeakMap<Socket, number>()
  server.on('connection', (socket: Socket) => {
    opened.set(socket, Date.now())
    // Every write of the answer, headers and body alike, held oneWayMs, in order: one queue per socket.
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean
    const queue: Array<{ at: number; args: unknown[] }> = []
    let timer: NodeJS.Timeout | undefined
    const drain = () => {
      timer = undefined
      while (queue.length && (queue[0] as { at: number }).at <= Date.now()) {
        const { args } = queue.shift() as { args: unknown[] }
        if (!socket.destroyed) write(...args)
      }
      if (queue.length) timer = setTimeout(drain, (queue[0] as { at: number }).at - Date.now())
    }
    socket.write = ((...args: unknown[]) => {
      const { oneWayMs } = link()
      if (!oneWayMs && !queue.length) return write(...args)
      queue.push({ at: Date.now() + oneWayMs, args })
      timer ??= setTimeout(drain, oneWayMs)
      return true
    }) as Write
    socket.on('close', () => clearTimeout(timer))
  })
  return async (req) => {
    const count = served.get(req.socket) ?? 0
    served.set(req.socket, count + 1)
    const { oneWayMs, handshakeRoundTrips } = link()
    if (oneWayMs) {
      const connected = (opened.get(req.socket) ?? 0) + handshakeRoundTrips * 2 * oneWayMs
      const seen = Math.max(Date.now(), connected) + oneWayMs
      await new Promise((resolve) => setTimeout(resolve, seen - Date.now()))
    }
    return { newConnection: count === 0 }
  }
}
