/**
 * `npm run bench`: what the plugin costs a shop's page, measured in real Chromium against dist/.
 *
 * Everything runs on loopback: the repository is served by test/support/static-server.ts, analytics-next
 * is the harness page's offline build (e2e/pages/harness.html, Segment.io off), and Trustpilot is the
 * real HTTP stand-in of test/support/stand-in.ts. This runner starts them and the browser, runs each
 * measure of scripts/bench/ (where each explains what it measures and why), and prints one table:
 *
 * 1. Throughput of `analytics.track` for non-order events, with and without the plugin (throughput.ts).
 * 2. The plugin's synchronous work for an `Order Completed` with 50 products (enqueue.ts).
 * 3. Latency from `analytics.track('Order Completed')` to the first request at the stand-in, with the
 *    delivery module still to import (cold) and already loaded (warm) (latency.ts).
 * 4. Timers and requests the plugin adds to a page that sends no order (idle.ts).
 * 5. Bytes of the plugin's files a page downloads, without an order and with one (bytes.ts).
 *
 * 6. Time from the order to its first POST at the stand-in on a thank-you page behind a modelled
 *    network (50 ms each way to every server, 10 ms each way from the relay to Trustpilot, handshakes
 *    on new connections): direct and through the relay (`endpoint: '/trustpilot'`), module cold and
 *    prefetched on the page before, with the relay's goals; and with transport 'script' (first-post.ts).
 *    BENCH_HANDSHAKES=0 npm run bench leaves the handshakes out, to see what the rows owe them.
 *
 * It reports figures and whether each goal is met; it is not a test, so a missed goal still exits 0.
 * It exits 1 when it can't measure: no Chromium, no dist/, a measurement that never completed, or a
 * row whose measurement saw nothing (no sample, no byte, a counter shown not to see the plugin),
 * which the table prints as "not measured" rather than as a goal met or missed.
 *
 * Code run in the page (the callbacks of page.evaluate/addInitScript) declares no named inner
 * functions: tsx compiles these files with esbuild's keepNames, which would wrap them in a `__name`
 * helper that does not exist in the page.
 */
import { cpus } from 'node:os'
import { type Browser, chromium } from '@playwright/test'
import { findChromium } from '../e2e/support/browsers'
import buildTestPages from '../e2e/support/global-setup'
import { type StandIn, startStandIn } from '../test/support/stand-in'
import { type StaticServer, startStaticServer } from '../test/support/static-server'
import { measureBytes } from './bench/bytes'
import { measureEnqueue } from './bench/enqueue'
import { measureFirstPost } from './bench/first-post'
import { measureIdleCost } from './bench/idle'
import { measureLatency } from './bench/latency'
import { type Env, NOT_MEASURED, printTable } from './bench/shared'
import { measureThroughput } from './bench/throughput'

async function main(): Promise<number> {
  const choice = findChromium()
  if ('error' in choice) {
    console.error(choice.error)
    return 1
  }
  // Checks dist/ exists and bundles analytics-next for the harness page, as before the browser tests.
  try {
    await buildTestPages()
  } catch (error) {
    console.error(error instanceof Error ? error.message : error)
    return 1
  }

  const began = Date.now()
  let site: StaticServer | undefined
  let standIn: StandIn | undefined
  let browser: Browser | undefined
  try {
    // performance.now() is coarsened to 0.1 ms in a page that is not cross-origin isolated, as wide as
    // the goal of row 2 (bench/enqueue.ts). With `?isolated` the harness is served with COOP/COEP, which
    // makes the page cross-origin isolated and its clock 5 µs fine; the other rows use the harness as
    // served normally.
    site = await startStaticServer('.', 0, {
      headers: (url) =>
        url.searchParams.has('isolated')
          ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
          : undefined,
    })
    standIn = await startStandIn()
    browser = await chromium.launch({ executablePath: choice.executablePath })
    const settings = { apiKey: 'bench-key', endpoint: standIn.url }
    const env: Env = { browser, site, standIn, settings }

    console.log(`Chromium ${browser.version()} (${choice.source}), Node ${process.version}, ${cpus().length} CPU(s)`)
    // Run in this order, printed in the order of the list above.
    const idle = await measureIdleCost(env)
    const bytes = await measureBytes(env)
    const latency = await measureLatency(env)
    const enqueue = await measureEnqueue(env)
    const throughput = await measureThroughput(env)
    const firstPost = await measureFirstPost(env)
    const measured = [throughput, enqueue, latency, idle, bytes, firstPost]

    const rows = measured.flatMap((m) => m.rows)
    printTable(rows)
    console.log(`\nNotes\n${measured.map((m) => `  ${m.note}`).join('\n')}`)
    const missed = rows.filter((r) => r.met === false).map((r) => r.metric)
    const unmeasured = rows.filter((r) => r.met === NOT_MEASURED).map((r) => r.metric)
    console.log(
      `\n${missed.length ? `Goals missed: ${missed.join('; ')}.` : unmeasured.length ? 'No goal missed.' : 'All goals met.'}${unmeasured.length ? ` Not measured: ${unmeasured.join('; ')}.` : ''} (${((Date.now() - began) / 1000).toFixed(1)} s)`,
    )
    // A missed goal is a finding; a row that measured nothing is a broken bench.
    return unmeasured.length ? 1 : 0
  } catch (error) {
    console.error(`bench: could not complete a measurement: ${error instanceof Error ? error.stack : error}`)
    return 1
  } finally {
    await browser?.close()
    await standIn?.close()
    await site?.close()
  }
}

process.exitCode = await main()
