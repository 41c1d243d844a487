/**
 * `npm run relay:load`: what the relay costs a shop's server, and what `maxInFlight` protects,
 * measured on loopback with autocannon. docs/relay.md ("What it can take") quotes its figures.
 *
 * Three processes, so that what each reports is its own: the relay as a shop runs it,
 * `createServer(toNodeHandler(trustpilotRelay(…)))` from dist/relay.js, with a route of the shop's
 * own beside it (`/checkout`), reporting its open descriptors (/proc/self/fd), memory (RSS), CPU and
 * answers by status ("left": the buyer's connection closed first); Trustpilot, played by
 * test/support/stand-in.ts; and this one, which runs autocannon and prints the table.
 *
 * 1. Normal: autocannon posts invitations for 4 s straight to the stand-in, then for 4 s through the
 *    relay: requests per second and latency side by side, and the relay's CPU per invitation.
 * 2. Brownout: the stand-in holds every invitation unanswered (a Trustpilot that hangs) when
 *    RELAY_LOAD_BUYERS (1,000) buyers arrive at once, each with one invitation on a connection of its
 *    own; each waits 5 s for its answer, then leaves (timeoutMs, 10 s, is not reached). Once with no
 *    cap (maxInFlight out of reach, as the relay was before it had one), once with the default cap.
 *    Meanwhile two probes, 20 requests a second each, ask for the shop's own route and send refusals
 *    (a foreign Origin): their latency shows whether the server stays usable. Then: how long until
 *    the relay holds no more descriptors than idle, and, Trustpilot back, one invitation relayed.
 *
 * RELAY_LOAD_DIST=<dir> measures another build of relay.js (an earlier one, to compare);
 * RELAY_LOAD_NOFILE=<n> runs the relay under an open-file limit of n.
 * Bounded: each phase runs 4 to 6 s, at most 4,000 buyers at once, every connection to 127.0.0.1. It
 * reports; it is not a test, and exits 1 only when it could not measure.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { SEED_FIRST_BODY } from '../test/support/fixtures'
import { startStandIn } from '../test/support/stand-in'

const API_KEY = 'load-key'
const SHOP = 'https://shop.example'
const BODY = JSON.stringify(SEED_FIRST_BODY)
/** The built relay, as a shop imports it. */
const RELAY = new URL('relay.js', new URL(`${process.env.RELAY_LOAD_DIST ?? '../dist'}/`, import.meta.url)).href
/** Seconds of the normal phase. */
const SECONDS = 4
/**
 * Buyers arriving at once in a brownout, each with one invitation on a connection of its own: 1,000
 * is what a large shop at 100 orders/s has waiting after 10 s of it (the issue measured 2,000).
 */
const BUYERS = Math.min(Math.max(Number(process.env.RELAY_LOAD_BUYERS) || 1_000, 10), 4_000)
/** How long a buyer waits for the relay's answer, in seconds, before leaving: less than timeoutMs. */
const PATIENCE = 5
/**
 * RELAY_LOAD_NOFILE=1024: the relay's process runs under that open-file limit (`prlimit`), as a shop's
 * server often does; unset, under this machine's.
 */
const FILE_LIMIT = Number(process.env.RELAY_LOAD_NOFILE) || undefined
/** "No cap": out of reach of any phase here. */
const UNCAPPED = 1_000_000

/** What the relay's process reports of itself. */
interface Sample {
  /** Open descriptors; -1 when there was none left even to count them (EMFILE). */
  fds: number
  rssMB: number
  /** CPU time (user + system) since the last reset, in ms. */
  cpuMs: number
  /** Its answers since the last reset, by status; "left": the buyer's connection closed first. */
  answers: Record<string, number>
}
interface Report {
  now: Sample
  /** The most descriptors (-1: all of them, EMFILE) and RSS since the last reset. */
  peak: { fds: number; rssMB: number }
}

/** Answers `ask` messages from the parent with `answer`, after telling it `ready`. */
function obey(ready: unknown, answer: (message: string) => unknown | Promise<unknown>) {
  process.on('message', async (message) => process.send?.(await answer(String(message))))
  process.on('disconnect', () => process.exit(0))
  process.send?.(ready)
}

// ---- The relay's process -------------------------------------------------------------------------

async function relayProcess(options: { upstream: string; maxInFlight?: number }) {
  const { toNodeHandler, trustpilotRelay }: typeof import('../src/server/relay') = await import(RELAY)
  const relay = toNodeHandler(trustpilotRelay({ apiKeys: [API_KEY], origins: [SHOP], ...options }))
  let answers: Record<string, number> = {}
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/trustpilot/')) {
      return void res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('the shop\n')
    }
    res.on('close', () => {
      const status = res.writableFinished ? String(res.statusCode) : 'left'
      answers[status] = (answers[status] ?? 0) + 1
    })
    void relay(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  let cpu = process.cpuUsage()
  let rssMB = process.memoryUsage.rss() / 2 ** 20
  const now = (): Sample => {
    const used = process.cpuUsage(cpu)
    // Both read files of /proc: with no descriptor left (EMFILE), the count is -1 and RSS the last read.
    let fds = -1
    try {
      fds = readdirSync('/proc/self/fd').length
      rssMB = process.memoryUsage.rss() / 2 ** 20
    } catch {}
    return { fds, rssMB, cpuMs: (used.user + used.system) / 1000, answers: { ...answers } }
  }
  let peak = { fds: 0, rssMB: 0 }
  const look = () => {
    const { fds, rssMB } = now()
    peak = { fds: peak.fds < 0 || fds < 0 ? -1 : Math.max(peak.fds, fds), rssMB: Math.max(peak.rssMB, rssMB) }
  }
  setInterval(look, 50)
  obey(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, (message) => {
    if (message === 'reset') {
      cpu = process.cpuUsage()
      answers = {}
      peak = { fds: 0, rssMB: 0 }
    }
    look()
    return { now: now(), peak } satisfies Report
  })
}

// ---- Trustpilot's process ------------------------------------------------------------------------

async function standInProcess() {
  const standIn = await startStandIn()
  standIn.hangMs = 60_000
  obey(standIn.url, async (message) => {
    const received = standIn.requests.length
    standIn.requests.length = 0
    if (message === 'hang') standIn.always = 'hang'
    if (message === 'back') {
      // Back up: what it held is cut, and it answers again.
      standIn.always = undefined
      await standIn.down()
      await standIn.up()
    }
    return received
  })
}

// ---- This process: autocannon, and the table ------------------------------------------------------

interface Child {
  /** What the child said once ready: its URL. */
  url: string
  ask<T>(message: string): Promise<T>
  stop(): void
}

async function child(role: string, options: object = {}): Promise<Child> {
  const node = [
    process.execPath,
    '--import',
    import.meta.resolve('tsx'),
    fileURLToPath(import.meta.url),
    role,
    JSON.stringify(options),
  ]
  // The relay's process alone under the shop server's open-file limit, when one is asked for.
  const command = role === 'relay' && FILE_LIMIT ? ['prlimit', `--nofile=${FILE_LIMIT}`, ...node] : node
  const process_ = spawn(command[0] as string, command.slice(1), {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  }) as ChildProcess
  const exited = new Promise<never>((_, reject) =>
    process_.once('exit', (code) => reject(new Error(`the ${role} process exited with ${code}`))),
  )
  exited.catch(() => {})
  process_.on('error', () => {})
  const url = await Promise.race([
    new Promise<string>((resolve) => process_.once('message', (m) => resolve(String(m)))),
    exited,
  ])
  return {
    url,
    ask: <T>(message: string) =>
      Promise.race([
        new Promise<T>((resolve) => {
          process_.once('message', (answer) => resolve(answer as T))
          process_.send(message)
        }),
        exited,
      ]),
    stop: () => process_.kill(),
  }
}

const post = (origin = SHOP, headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  headers: { 'Content-Type': 'application/json', Origin: origin, ...headers },
  body: BODY,
})

function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)))
  })
}

const count = (value: number) => Math.round(value).toLocaleString('en')
const ms = (value: number) => `${value < 10 ? value.toFixed(1) : count(value)} ms`
const latency = (result: autocannon.Result) =>
  result.requests.total ? `${ms(result.latency.p50)} / ${ms(result.latency.p99)}` : 'none answered'
/** Answers by status, as "202: 1,234, 503: 56". */
const byStatus = (answers: Record<string, number>) =>
  Object.entries(answers)
    .map(([status, n]) => `${status}: ${count(n)}`)
    .join(', ') || 'none'
const ofCannon = (result: autocannon.Result) =>
  byStatus(Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([s, stat]) => [s, stat.count ?? 0])))

async function normalPhase(standIn: Child, relay: Child) {
  const common = { connections: 50, duration: SECONDS }
  const direct = await cannon({ ...common, url: `${standIn.url}/api/${API_KEY}/invitation`, ...post() })
  await standIn.ask('count')
  await relay.ask('reset')
  const relayed = await cannon({ ...common, url: `${relay.url}/trustpilot/api/${API_KEY}/invitation`, ...post() })
  const { now } = await relay.ask<Report>('sample')
  await standIn.ask('count')
  return { direct, relayed, cpuMsPerInvitation: now.cpuMs / Math.max(relayed.requests.total, 1) }
}

async function brownoutPhase(standIn: Child, relay: Child) {
  await standIn.ask('hang')
  const idle = (await relay.ask<Report>('reset')).now
  const base = `${relay.url}/trustpilot/api/${API_KEY}/invitation`
  const probe = { connections: 4, overallRate: 20, ignoreCoordinatedOmission: true, duration: PATIENCE }
  const [buyers, shop, refusals] = await Promise.all([
    // One invitation per buyer, each on its own connection; a buyer leaves after PATIENCE seconds.
    cannon({
      url: base,
      connections: BUYERS,
      maxConnectionRequests: 1,
      timeout: PATIENCE,
      ...post(SHOP, { Connection: 'close' }),
    }),
    // Probes, not load: 20 a second each, their latencies as measured (no correction for requests
    // a busy autocannon sent late: it shares the machine with the 1,000 buyers).
    cannon({ ...probe, url: `${relay.url}/checkout` }),
    cannon({ ...probe, url: base, ...post('https://elsewhere.example') }),
  ])
  const during = await relay.ask<Report>('sample')
  const forwarded = await standIn.ask<number>('count')
  // The buyers left: how long until the relay holds no more descriptors than it did idle (a few
  // aside), 5 s at the most.
  const left = Date.now()
  let afterLeaving = (await relay.ask<Report>('sample')).now
  for (let looks = 0; looks < 50 && afterLeaving.fds > idle.fds + 8; looks++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    afterLeaving = (await relay.ask<Report>('sample')).now
  }
  const freedMs = afterLeaving.fds > idle.fds + 8 ? undefined : Date.now() - left
  await standIn.ask('back')
  const again = await fetch(base, post())
  await standIn.ask('count')
  return { idle, during, afterLeaving, freedMs, forwarded, buyers, shop, refusals, again: again.status }
}

function printTable(rows: string[][]) {
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => (row[column] ?? '').length)))
  for (const row of rows) {
    console.log(row.length ? row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ') : '')
  }
}

async function main(): Promise<number> {
  let built: typeof import('../src/server/relay')
  try {
    built = await import(RELAY)
  } catch {
    console.error(`No ${fileURLToPath(RELAY)}: run \`npm run build\` first (npm run relay:load does).`)
    return 1
  }
  const children: Child[] = []
  try {
    const standIn = await child('stand-in')
    children.push(standIn)
    const capped = await child('relay', { upstream: standIn.url })
    children.push(capped)
    const uncapped = await child('relay', { upstream: standIn.url, maxInFlight: UNCAPPED })
    children.push(uncapped)
    console.log(
      `Node ${process.version}, ${cpus().length} CPU(s), load ${loadavg()[0]?.toFixed(1)}; ${fileURLToPath(RELAY)}; ` +
        `the relay's open-file limit: ${FILE_LIMIT ?? "this machine's"}; ` +
        `brownout: ${count(BUYERS)} buyers at once, each waiting ${PATIENCE} s at most`,
    )
    const normal = await normalPhase(standIn, capped)
    const runs = [await brownoutPhase(standIn, uncapped), await brownoutPhase(standIn, capped)]
    const { DEFAULT_MAX_IN_FLIGHT } = built
    const rows: string[][] = [
      [`1. Normal: 50 connections, ${SECONDS} s`, 'straight to Trustpilot', 'through the relay'],
      ['invitations per second', count(normal.direct.requests.average), count(normal.relayed.requests.average)],
      ['latency p50 / p99', latency(normal.direct), latency(normal.relayed)],
      ['answers', ofCannon(normal.direct), ofCannon(normal.relayed)],
      ['relay CPU per invitation', '', ms(normal.cpuMsPerInvitation)],
      [],
      [
        '2. Brownout: Trustpilot hangs',
        'no cap',
        DEFAULT_MAX_IN_FLIGHT
          ? `maxInFlight ${DEFAULT_MAX_IN_FLIGHT} (the default)`
          : 'the default (no cap in this build)',
      ],
    ]
    const row = (name: string, value: (run: (typeof runs)[number]) => string) => rows.push([name, ...runs.map(value)])
    row('forwarded, left waiting on Trustpilot', (run) => count(run.forwarded))
    row('relay answers (left: the buyer went first)', (run) => byStatus(run.afterLeaving.answers))
    row('buyers answered: p50 / p99', (run) => latency(run.buyers))
    row("buyers' connection errors (resets)", (run) => count(run.buyers.errors - run.buyers.timeouts))
    row(
      'open descriptors: idle / peak',
      (run) =>
        `${run.idle.fds} / ${run.during.peak.fds < 0 ? 'all (EMFILE: too many open files)' : count(run.during.peak.fds)}`,
    )
    row('RSS: idle / peak', (run) => `${count(run.idle.rssMB)} MB / ${count(run.during.peak.rssMB)} MB`)
    row('relay CPU in the phase', (run) => ms(run.during.now.cpuMs))
    row("the shop's own route: p50 / p99, errors", (run) => `${latency(run.shop)}, ${count(run.shop.errors)}`)
    row('a refusal (403): p50 / p99, errors', (run) => `${latency(run.refusals)}, ${count(run.refusals.errors)}`)
    row('buyers gone: back to idle descriptors', (run) =>
      run.freedMs === undefined ? `not in 5 s (${run.afterLeaving.fds})` : `in ${(run.freedMs / 1000).toFixed(1)} s`,
    )
    row('then, Trustpilot back: an invitation', (run) => String(run.again))
    printTable(rows)
    const [open] = runs
    if (open && open.during.peak.fds >= 0) {
      const waiting = Math.max(open.forwarded, 1)
      console.log(
        `\nOne invitation waiting on Trustpilot (no cap): ${((open.during.peak.fds - open.idle.fds) / waiting).toFixed(1)} descriptors, ` +
          `${count(((open.during.peak.rssMB - open.idle.rssMB) * 1024) / waiting)} KB of RSS; ` +
          `relaying one takes ${ms(normal.cpuMsPerInvitation)} of CPU.`,
      )
    }
    return 0
  } catch (error) {
    console.error(error)
    return 1
  } finally {
    for (const running of children) running.stop()
  }
}

const [role, options] = process.argv.slice(2)
if (role === 'relay') await relayProcess(JSON.parse(options ?? '{}'))
else if (role === 'stand-in') await standInProcess()
else process.exitCode = await main()
