/**
 * What the recipe tests share: the packed package installed into a shop's project, a runtime's
 * process started on 127.0.0.1, and the checks every recipe must pass against the Trustpilot
 * stand-in (test/support/stand-in.ts) as its upstream.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, test } from 'node:test'
import { installConsumer, pack, REPO } from '../../e2e/support/pack'
import { SEED_FIRST_BODY, SEED_SECOND_BODY } from '../fixtures'
import { type StandIn, startStandIn } from '../support/stand-in'

export { REPO }
export const RECIPES = join(REPO, 'example', 'relay')
export const API_KEY = 'recipe-integration-key'
export const SHOP_ORIGIN = 'https://shop.example'
/** The relay's default path, which every recipe keeps. */
export const INVITATION_PATH = `/trustpilot/api/${API_KEY}/invitation`

/**
 * What a test file made that must not outlive it, even when a recipe fails to start (and no `after`
 * stops it): the projects it made and the process groups it started, removed and killed at exit.
 */
const projects = new Set<string>()
const groups = new Set<number>()
process.on('exit', () => {
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL')
    } catch {}
  }
  for (const dir of projects) rmSync(dir, { recursive: true, force: true })
})

/** A shop's project: the packed package in its node_modules, beside the repository's copies of `links`. */
export interface Shop {
  dir: string
  /** Copies a recipe file (a path under example/relay/) into the project, at `to` (default: the same path). */
  add(recipe: string, to?: string): Promise<string>
  remove(): Promise<void>
}

/**
 * Makes a shop's project in a new temporary directory, as `npm install` would leave it: the package
 * from its `npm pack`ed tarball (exactly the files that would be published), and `links` (express,
 * next, ...) linked from the repository's node_modules. Nothing is kept across runs.
 */
export async function shopProject(links: string[] = []): Promise<Shop> {
  const dir = await mkdtemp(join(tmpdir(), 'trustpilot-recipe-'))
  projects.add(dir)
  await installConsumer(await pack(dir), dir)
  for (const name of links) {
    await mkdir(dirname(join(dir, 'node_modules', name)), { recursive: true })
    await symlink(join(REPO, 'node_modules', name), join(dir, 'node_modules', name), 'dir')
  }
  const dependencies = Object.fromEntries(['analytics-plugin-trustpilot', ...links].map((name) => [name, '*']))
  await writeFile(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module', dependencies }))
  return {
    dir,
    async add(recipe, to = recipe) {
      const target = join(dir, to)
      await mkdir(dirname(target), { recursive: true })
      await copyFile(join(RECIPES, recipe), target)
      return target
    },
    async remove() {
      await rm(dir, { recursive: true, force: true })
      projects.delete(dir)
    },
  }
}

/** A port free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A process started by a test, in its own process group (a runtime's children are stopped with it). */
export interface Launched {
  child: ChildProcess
  /** What it printed so far, stdout and stderr. */
  output(): string
  /** Resolves with its exit code once it exits. */
  exited: Promise<number | null>
  stop(): Promise<void>
}

export function launch(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Launched {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  const group = child.pid
  if (group !== undefined) groups.add(group)
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      if (group !== undefined) groups.delete(group)
      resolve(code)
    })
    child.on('error', () => resolve(-1))
  })
  return {
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null || group === undefined) return
      try {
        process.kill(-group, 'SIGTERM')
      } catch {}
      const killer = setTimeout(() => {
        try {
          process.kill(-group, 'SIGKILL')
        } catch {}
      }, 5_000)
      await exited
      clearTimeout(killer)
    },
  }
}

/** Runs a command to its end; rejects with its output when it fails. */
export async function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const launched = launch(command, args, options)
  const code = await launched.exited
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${launched.output()}`)
  return launched.output()
}

/** Waits until something accepts connections on the port; fails with the process's output if it exits first. */
export async function listening(port: number, launched: Launched, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (launched.child.exitCode !== null) {
      throw new Error(`exited with ${launched.child.exitCode} before listening:\n${launched.output()}`)
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    if (Date.now() > deadline) {
      await launched.stop()
      throw new Error(`not listening on ${port} after ${timeoutMs} ms:\n${launched.output()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** The environment a recipe reads, as the shop would set it, with Trustpilot played by the stand-in. */
export const recipeEnv = (standIn: StandIn, port: number): Record<string, string> => ({
  TRUSTPILOT_API_KEY: API_KEY,
  SHOP_ORIGIN,
  TRUSTPILOT_UPSTREAM: standIn.url,
  PORT: String(port),
  HOST: '127.0.0.1',
})

/**
 * A runtime's binary, where one runs here: the path in the environment variable `envName`, a binary
 * of the runtime's npm packages (`[package, file in it]`, resolved from the repository), or `command`
 * on PATH. Undefined when none answers `--version`.
 */
export function findRuntime(envName: string, packaged: [string, string][], command: string): string | undefined {
  const require = createRequire(join(REPO, 'package.json'))
  const fromPackages = packaged.flatMap(([name, file]) => {
    try {
      return [join(dirname(require.resolve(`${name}/package.json`)), file)]
    } catch {
      return []
    }
  })
  const candidates = [process.env[envName], ...fromPackages, command].filter((c): c is string => !!c)
  return candidates.find((candidate) => spawnSync(candidate, ['--version'], { timeout: 10_000 }).status === 0)
}

/** Whether the repository has `name` as a devDependency: then a runtime that isn't found is a failure, not a skip. */
export function isDevDependency(name: string): boolean {
  const require = createRequire(join(REPO, 'package.json'))
  return name in (require('./package.json').devDependencies ?? {})
}

/** What the browser plugin sends, with every header a buyer's browser adds to a same-origin request. */
const BUYER_HEADERS = {
  Cookie: 'session=buyer-secret-cookie',
  Authorization: 'Bearer buyer-secret-token',
  Referer: 'https://shop.example/checkout/buyer-secret-page',
  'User-Agent': 'BuyerBrowser/1.0 buyer-secret-agent',
  'X-Forwarded-For': '203.0.113.7',
  'Accept-Language': 'x-buyer-secret-language',
}
/** A recipe started in `shop` on `port`: once it listens, its URL, and how to stop it and remove the project. */
export async function served(shop: Shop, port: number, server: Launched) {
  await listening(port, server)
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await server.stop()
      await shop.remove()
    },
  }
}

/** Buyer header values; none may reach Trustpilot, under any name. */
const BUYER_SECRETS = ['buyer-secret', '203.0.113.7']

export interface RecipeUnderTest {
  /** The shop's base URL, where the recipe listens: http://127.0.0.1:<port>. */
  url: string
  standIn: StandIn
}

export interface RelayChecks {
  /**
   * What a GET of the invitation path gets: the relay's own 405 (with `Allow: POST`), or what the
   * framework answers before the relay sees the request (Next's 405 for a method a route does not
   * export, Express's 404 for a path no route has for that method).
   */
  get: { status: number; by: 'relay' | string }
  /** Marks the checks that need a forwarded request as known to fail, with why (see node:test's `todo`). */
  forwardingTodo?: string
}

/**
 * Registers the checks every recipe must pass: start it (`start`, given a started stand-in) before
 * them and stop it after. Each check starts with a stand-in that has recorded nothing.
 */
export function relayChecks(
  start: (standIn: StandIn) => Promise<{ url: string; stop(): Promise<void> }>,
  checks: RelayChecks,
): void {
  let standIn: StandIn
  let recipe: { url: string; stop(): Promise<void> } | undefined
  before(async () => {
    standIn = await startStandIn()
    recipe = await start(standIn)
  })
  after(async () => {
    await recipe?.stop()
    await standIn?.close()
  })
  const fresh = () => {
    standIn.requests.length = 0
    standIn.faults.length = 0
    standIn.answerBody = undefined
    standIn.retryAfter = undefined
  }
  const post = (body: string, headers: Record<string, string> = {}, path = INVITATION_PATH) =>
    fetch(`${recipe?.url}${path}`, {
      method: 'POST',
      headers: { Origin: SHOP_ORIGIN, 'Content-Type': 'application/json', ...BUYER_HEADERS, ...headers },
      body,
    })
  const forwarding = { todo: checks.forwardingTodo }

  async function forwards(body: object, status: number) {
    fresh()
    standIn.answerBody = JSON.stringify({ answeredBy: 'stand-in', status })
    const answer = await post(JSON.stringify(body))
    assert.equal(answer.status, status, await answer.clone().text())
    assert.equal(await answer.text(), standIn.answerBody, "the stand-in's body comes back")
    assert.equal(answer.headers.get('Content-Type'), 'application/json')
    assert.equal(standIn.requests.length, 1, 'one request reached the stand-in')
    const [received] = standIn.requests
    assert.equal(received?.apiKey, API_KEY)
    assert.deepEqual(received?.body, body, 'the body, exactly')
    assert.equal(received?.origin, SHOP_ORIGIN, "the shop's Origin")
    assert.equal(received?.headers['content-type'], 'application/json')
    assert.equal(received?.cookie, undefined, 'no cookie')
    assert.equal(received?.headers.authorization, undefined, 'no Authorization')
    assert.equal(received?.headers.referer, undefined, 'no Referer')
    assert.equal(received?.headers['x-forwarded-for'], undefined, 'no X-Forwarded-For')
    const leaked = Object.entries(received?.headers ?? {}).filter(([, value]) =>
      BUYER_SECRETS.some((secret) => String(value).includes(secret)),
    )
    assert.deepEqual(leaked, [], "no header of the buyer's, under any name")
  }

  test('forwards the first invitation as the plugin posts it: 202 and its body come back', forwarding, () =>
    forwards(SEED_FIRST_BODY, 202),
  )
  test('forwards the invitation with products: 201 and its body come back', forwarding, () =>
    forwards(SEED_SECOND_BODY, 201),
  )
  test("passes Trustpilot's 429 and its Retry-After back", forwarding, async () => {
    fresh()
    standIn.faults.push(429)
    standIn.retryAfter = '120'
    const answer = await post(JSON.stringify(SEED_FIRST_BODY))
    assert.equal(answer.status, 429)
    assert.equal(answer.headers.get('Retry-After'), '120')
    assert.equal(standIn.requests.length, 1)
  })

  /** A refusal of the relay's own: its status, its words, and nothing sent to Trustpilot. */
  async function refused(answer: Response, status: number) {
    const text = await answer.text()
    assert.equal(answer.status, status, text)
    assert.match(text, /^Trustpilot relay: /)
    assert.deepEqual(standIn.requests, [], 'nothing reached the stand-in')
  }
  test('refuses a foreign Origin with 403, and one with no Origin, forwarding nothing', async () => {
    fresh()
    await refused(await post(JSON.stringify(SEED_FIRST_BODY), { Origin: 'https://elsewhere.example' }), 403)
    const answer = await fetch(`${recipe?.url}${INVITATION_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...BUYER_HEADERS },
      body: JSON.stringify(SEED_FIRST_BODY),
    })
    await refused(answer, 403)
  })
  test('answers 404 for a key that is not the shop’s, forwarding nothing', async () => {
    fresh()
    await refused(await post(JSON.stringify(SEED_FIRST_BODY), {}, '/trustpilot/api/another-key/invitation'), 404)
  })
  test('refuses a body over 32 KB with 413, and one that is not a JSON object with 400', async () => {
    fresh()
    await refused(await post(JSON.stringify({ ...SEED_FIRST_BODY, padding: 'x'.repeat(40_000) })), 413)
    await refused(await post('[]'), 400)
  })
  test(`a GET of the invitation path: ${checks.get.status} (${checks.get.by})`, async () => {
    fresh()
    const answer = await fetch(`${recipe?.url}${INVITATION_PATH}`, { headers: { Origin: SHOP_ORIGIN } })
    if (checks.get.by === 'relay') {
      await refused(answer, checks.get.status)
      assert.equal(answer.headers.get('Allow'), 'POST')
    } else {
      assert.equal(answer.status, checks.get.status)
      assert.doesNotMatch(await answer.text(), /^Trustpilot relay: /, `${checks.get.by} answers it, not the relay`)
      assert.deepEqual(standIn.requests, [])
    }
  })
}
