/**
 * What the relay's tests of its bounds share (test/relay.test.ts, and the recipes' boundsChecks in
 * ./support.ts): waiting for a condition with a generous bound, a buyer on a raw connection, and
 * Trustpilot in a brownout. None of them measures time: each counts what happened, and gives up
 * after a limit well past what the relay should need.
 */
import assert from 'node:assert/strict'
import { createServer, type ServerResponse } from 'node:http'
import { type AddressInfo, connect } from 'node:net'

/**
 * Waits until `condition` holds, looking every 10 ms, for at most `limitMs` (generous: what it waits
 * for takes milliseconds); fails naming `what` if it never does.
 */
export async function until(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    assert.ok(waited < limitMs, `${what}: not within ${limitMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A buyer on a raw connection: see {@link rawBuyer}. */
export interface RawBuyer {
  /** Each whole answer that came back, head and body, as text. */
  answers: string[]
  /** The connection's errors (`EPIPE`, `ECONNRESET`). */
  errors: string[]
  closed: boolean
  /** Sends `data`; resolves once it is handed to the system (or at once, once the connection is closed). */
  send(data: string | Buffer): Promise<void>
  /** Waits until `count` whole answers came back; fails if the connection closes first or `limitMs` passes. */
  answered(count: number, limitMs?: number): Promise<void>
  close(): void
}

/**
 * A buyer on a raw connection to `url`, to send a request in parts (a head alone, a body slowly) and
 * see exactly what comes back: each whole answer (by its Content-Length, or its chunks' end), errors,
 * and whether the server closed the connection.
 */
export async function rawBuyer(url: string): Promise<RawBuyer> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const buyer: RawBuyer = {
    answers: [],
    errors: [],
    closed: false,
    send: (data) =>
      new Promise<void>((resolve) => {
        if (buyer.closed) return resolve()
        socket.write(data, () => resolve())
      }),
    answered: async (count, limitMs) => {
      await until(() => buyer.answers.length >= count || buyer.closed, `answer ${count}`, limitMs)
      assert.ok(buyer.answers.length >= count, `the connection closed after ${buyer.answers.length} answers`)
    },
    close: () => socket.destroy(),
  }
  let pending = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => {
    pending += chunk
    for (;;) {
      const end = pending.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = pending.slice(0, end + 4)
      // A chunked body ends with an empty chunk (the bodies here hold no "0\r\n\r\n" of their own).
      const whole = /\r\ntransfer-encoding: *chunked\r\n/i.test(head)
        ? pending.indexOf('0\r\n\r\n', end + 4) + 5
        : end + 4 + Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
      if (whole < end + 4 || pending.length < whole) return
      buyer.answers.push(pending.slice(0, whole))
      pending = pending.slice(whole)
    }
  })
  socket.on('error', (error: NodeJS.ErrnoException) => buyer.errors.push(error.code ?? error.message))
  socket.on('close', () => {
    buyer.closed = true
  })
  return buyer
}

/** Trustpilot in a brownout: see {@link startBrownout}. */
export interface Brownout {
  url: string
  /** What it does with the next requests: hold them unanswered, send the head and part of the body, or answer 202. */
  mode: 'hang' | 'partial' | 'answer'
  /** Requests received so far. */
  received: number
  /** Held requests whose connection closed before their answer was whole: dropped by the relay. */
  dropped: number
  /** Answers what it holds (202; a half-sent answer is cut) and every request after it: Trustpilot is back. */
  recover(): void
  close(): Promise<void>
}

/** Trustpilot in a brownout, on 127.0.0.1: it counts what arrives and what the relay drops. */
export async function startBrownout(): Promise<Brownout> {
  const held = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      brownout.received++
      if (brownout.mode === 'answer') return void res.writeHead(202, { 'Content-Type': 'application/json' }).end('{}')
      held.add(res)
      res.on('close', () => {
        if (held.delete(res) && !res.writableFinished) brownout.dropped++
      })
      if (brownout.mode === 'partial') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '100' })
        res.write('{"partial":')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const brownout: Brownout = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mode: 'hang',
    received: 0,
    dropped: 0,
    recover() {
      brownout.mode = 'answer'
      for (const res of [...held]) {
        held.delete(res)
        if (res.headersSent) res.destroy()
        else res.writeHead(202, { 'Content-Type': 'application/json' }).end('{}')
      }
    },
    async close() {
      for (const res of [...held]) {
        held.delete(res)
        res.destroy()
      }
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  return brownout
}
