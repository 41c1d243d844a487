/**
 * The packed package on a server: Node, Deno and Bun run a shop's analytics module
 * (test/recipes/server-shop.mjs) from a project the package is installed in, as a server render or
 * a script would. With a path endpoint ('/trustpilot'), creating, loading and tracking throw nothing
 * and print nothing; an Order Completed ends `failed` (there is no page origin to post to) with no
 * request made; a path that could leave the page's origin is still refused at trustpilot().
 * Deno runs with no permissions at all (no network, no files, no environment).
 */
import assert from 'node:assert/strict'
import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { denoEnv, findBun, findDeno, isDevDependency, launch, type Shop, shopProject } from './support'

const SCRIPT = 'server-shop.mjs'
/** The same module, where reading `location` throws, as it did in Deno 1 without --location. */
const THROWING_LOCATION_SCRIPT = 'throwing-location.mjs'
/** Longer than the script's own wait for an outcome (10 s), so a hang shows as one. */
const RUN_TIMEOUT_MS = 30_000

const NO_PAGE_ORIGIN =
  'Trustpilot: setting "endpoint" is a path, with no page origin to resolve it against (a server render)'
/** Paths that would leave the page's origin ('//' or '/\\' first, a tab the URL parser drops), or carry a query or hash. */
const MALFORMED = ['//evil.example', '/\\evil.example', '/\t/evil.example', '/a?x', '/a#x']

const deno = findDeno()
const bun = findBun()

interface Report {
  thrown: string[]
  requests: string[]
  outcomes: Array<{ status: string; referenceId?: string; reason: string; error?: string }>
  errors: Array<{ code?: string; reason?: string }>
  tracked: Array<{ event: string; properties: Record<string, unknown>; options: Record<string, unknown> }>
  logs: Array<[string, string]>
  malformed: Record<string, string>
  location: string
  pageEventSynchronous?: boolean
}

let shop: Shop
before(async () => {
  shop = await shopProject()
  await copyFile(join(import.meta.dirname, SCRIPT), join(shop.dir, SCRIPT))
  await writeFile(
    join(shop.dir, THROWING_LOCATION_SCRIPT),
    `Object.defineProperty(globalThis, 'location', {
  configurable: true,
  get() {
    throw new ReferenceError('Access to "location", run again with --location <href>.')
  },
})
await import('./${SCRIPT}')
`,
  )
})
after(() => shop?.remove())

/** Runs the module to its end in a runtime: its exit code and everything it printed, stdout and stderr. */
async function runShop(command: string, args: string[], env: Record<string, string> = {}) {
  const launched = launch(command, args, { cwd: shop.dir, env })
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), RUN_TIMEOUT_MS)
  })
  const code = await Promise.race([launched.exited, timedOut])
  clearTimeout(timer)
  if (code === 'timed out') {
    await launched.stop()
    assert.fail(`still running after ${RUN_TIMEOUT_MS} ms: something keeps it alive\n${launched.output()}`)
  }
  return { code, output: launched.output() }
}

/** What every runtime must show: exit 0, one line printed (the module's report), and the outcome. */
function assertServerSafe({ code, output }: { code: number | null; output: string }): Report {
  assert.equal(code, 0, `exit code, with output:\n${output}`)
  const lines = output.split('\n').filter((line) => line !== '')
  assert.equal(lines.length, 1, `only the module's report is printed, nothing of the package's:\n${output}`)
  const report = JSON.parse(lines[0]!) as Report
  assert.deepEqual(report.thrown, [], 'import, trustpilot(), load and track threw nothing')
  assert.equal(report.pageEventSynchronous, true, 'a page event passes through at once')
  assert.deepEqual(
    report.outcomes.map(({ status, referenceId, reason }) => ({ status, referenceId, reason })),
    [{ status: 'failed', referenceId: 'server-order-1', reason: NO_PAGE_ORIGIN }],
    'the order fails at once, saying why',
  )
  assert.ok(report.outcomes[0]?.error, 'the failure carries its error')
  assert.deepEqual(report.errors, [{ code: 'delivery_failure', reason: report.outcomes[0]?.error?.split(':')[0] }])
  assert.deepEqual(
    report.tracked.map(({ event, properties, options }) => ({ event, properties, options })),
    [
      {
        event: 'Review Invitation Failed',
        properties: { order_id: 'server-order-1', reason: NO_PAGE_ORIGIN, provider: 'Trustpilot', transport: 'api' },
        options: { integrations: { Trustpilot: false } },
      },
    ],
    'trackOutcomes reports the failure',
  )
  assert.deepEqual(report.requests, [], 'no request was tried')
  const notRefused = MALFORMED.filter(
    (endpoint) => !/^TypeError: Trustpilot: setting "endpoint" /.test(report.malformed[endpoint] ?? ''),
  )
  assert.deepEqual(notRefused, [], 'every malformed path is refused at trustpilot(), naming "endpoint"')
  return report
}

describe('the packed package on a server, endpoint "/trustpilot": nothing thrown or printed, the order fails saying why', () => {
  test('Node', async () => {
    const report = assertServerSafe(await runShop(process.execPath, [SCRIPT]))
    assert.equal(report.location, 'undefined')
  })

  // Skipped without a binary only while the runtime is no devDependency; then a missing one fails.
  const denoOptions = { skip: !deno.bin && !isDevDependency('deno') && deno.missing }
  /** No permission flag: every network, file and environment access would fail (--no-prompt: not ask). */
  const denoRun = (script: string, cache: string) =>
    runShop(deno.bin as string, ['run', '--no-prompt', script], denoEnv(shop.dir, cache))
  test('Deno, with no permissions and no --location', denoOptions, async () => {
    assert.ok(deno.bin, deno.missing)
    assertServerSafe(await denoRun(SCRIPT, '.deno'))
  })
  test('Deno, where reading `location` throws (as Deno 1 did without --location)', denoOptions, async () => {
    assert.ok(deno.bin, deno.missing)
    const report = assertServerSafe(await denoRun(THROWING_LOCATION_SCRIPT, '.deno-throwing-location'))
    assert.equal(report.location, 'throws ReferenceError', 'the module ran where `location` throws')
  })

  test('Bun', { skip: !bun.bin && !isDevDependency('bun') && bun.missing }, async () => {
    assert.ok(bun.bin, bun.missing)
    // --no-install: the project's node_modules only, never the registry.
    const report = assertServerSafe(await runShop(bun.bin, ['--no-install', SCRIPT], { DO_NOT_TRACK: '1' }))
    assert.equal(report.location, 'undefined')
  })
})
