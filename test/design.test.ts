/**
 * The shape of src/, held by a test so it stays that way: the import graph has no cycles (type-only
 * and dynamic imports included), and the entry every page loads reaches the delivery module's code
 * only through `import()`, so no bundler can pull it into the entry.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { posix } from 'node:path'
import { describe, test } from 'node:test'

const SRC = new URL('../src/', import.meta.url)
/** Each module by its path under src/ without `.ts`: 'settings', 'server/relay'. */
const modules = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.slice(0, -3))
/** The module a relative specifier of `from` names ('../rules.js' from 'server/relay' is 'rules'). */
const resolve = (from: string, specifier: string) => posix.join(posix.dirname(from), specifier).replace(/\.js$/, '')

interface Edge {
  to: string
  kind: 'value' | 'type' | 'dynamic'
}

/** Every import of a module: static (value or type-only), re-exports, and import() / typeof import(). */
function importsOf(module: string): Edge[] {
  // Comments aside: a comment may well quote an import.
  const source = readFileSync(new URL(`${module}.ts`, SRC), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
  const edges: Edge[] = []
  for (const [, , names, to] of source.matchAll(/^(import|export)\s+([^'"]*?)\s*from\s+'(\.{1,2}\/[\w/-]+\.js)'/gm)) {
    // `import type …`, or braces where every name is marked `type`: nothing of it is bundled.
    const specifiers = (names as string)
      .match(/^\{([^}]*)\}$/)?.[1]
      ?.split(',')
      .map((name) => name.trim())
    const typeOnly =
      /^type\b/.test(names as string) || !!specifiers?.filter(Boolean).every((name) => name.startsWith('type '))
    edges.push({ to: resolve(module, to as string), kind: typeOnly ? 'type' : 'value' })
  }
  // A bare `import './x.js'` runs the module: a value edge.
  for (const [, to] of source.matchAll(/^import\s+'(\.{1,2}\/[\w/-]+\.js)'/gm))
    edges.push({ to: resolve(module, to as string), kind: 'value' })
  for (const [, to] of source.matchAll(/import\('(\.{1,2}\/[\w/-]+\.js)'\)/g))
    edges.push({ to: resolve(module, to as string), kind: 'dynamic' })
  return edges
}

const graph = new Map(modules.map((module) => [module, importsOf(module)]))

/** Modules reachable from `roots` along edges of the given kinds. */
function reach(roots: string[], kinds: Edge['kind'][]): Set<string> {
  const seen = new Set<string>()
  const stack = [...roots]
  while (stack.length) {
    const module = stack.pop() as string
    if (seen.has(module)) continue
    seen.add(module)
    for (const edge of graph.get(module) ?? []) if (kinds.includes(edge.kind)) stack.push(edge.to)
  }
  return seen
}

describe('design', () => {
  test('every import names a module of src/', () => {
    for (const [module, edges] of graph) {
      for (const edge of edges) assert.ok(graph.has(edge.to), `${module} imports ${edge.to}.js, which is not in src/`)
    }
  })

  test('the import graph has no cycles, type-only and dynamic imports included', () => {
    const state = new Map<string, 'open' | 'done'>()
    const visit = (module: string, path: string[]) => {
      if (state.get(module) === 'done') return
      assert.notEqual(state.get(module), 'open', `cycle: ${[...path, module].join(' → ')}`)
      state.set(module, 'open')
      for (const edge of graph.get(module) ?? []) visit(edge.to, [...path, module])
      state.set(module, 'done')
    }
    for (const module of modules) visit(module, [])
  })

  test('the entry reaches the delivery module only through import(), and only the modules it needs', () => {
    const entry = reach(['index', 'global'], ['value'])
    assert.deepEqual(
      [...entry].sort(),
      ['errors', 'global', 'inbox', 'index', 'keys', 'plugin', 'rules', 'settings', 'timeout'],
      'modules bundled into dist/index.js and dist/trustpilot.global.js',
    )
    const dynamic = [...graph].flatMap(([module, edges]) =>
      edges.filter((edge) => edge.kind === 'dynamic').map((edge) => `${module} → ${edge.to}`),
    )
    assert.deepEqual(dynamic.sort(), ['delivery → outbox', 'delivery → script-transport', 'index → delivery'])
  })

  test('errors.ts is the public error classes alone, and no module hands code to another through a global', () => {
    // esbuild.config.mjs makes every later ES bundle import ./errors.js from the entry, dist/index.js:
    // so errors.ts must import nothing, and the entry must export every name it has.
    assert.deepEqual(graph.get('errors'), [], 'errors.ts imports nothing')
    const exported = (source: string, pattern: RegExp) =>
      [...source.matchAll(pattern)].map(([, name]) => name as string).sort()
    const errors = exported(readFileSync(new URL('errors.ts', SRC), 'utf8'), /^export class (\w+)/gm)
    const entry = readFileSync(new URL('index.ts', SRC), 'utf8')
    const fromErrors = entry.match(/export \{([^}]*)\} from '\.\/errors\.js'/)?.[1] ?? ''
    assert.deepEqual(exported(fromErrors, /(\w+)/g), errors, 'the entry exports every class of errors.ts')
    assert.ok(errors.length >= 4, `errors.ts exports ${errors}`)
    assert.doesNotMatch(readFileSync(new URL('errors.ts', SRC), 'utf8'), /^export (?!class )/m, 'only classes')
    for (const module of modules) {
      const source = readFileSync(new URL(`${module}.ts`, SRC), 'utf8')
      assert.doesNotMatch(source, /Symbol\.for\(/, `${module}.ts: a bundle must not depend on another having run first`)
    }
  })

  test('server code lives in src/server/: no browser module imports it, and it shares only src/rules.ts', () => {
    const server = modules.filter((module) => module.startsWith('server/'))
    assert.ok(server.includes('server/relay'), `server modules: ${server}`)
    const importers = [...graph].flatMap(([module, edges]) =>
      !module.startsWith('server/') && edges.some((edge) => edge.to.startsWith('server/')) ? [module] : [],
    )
    assert.deepEqual(importers, [], 'browser modules that import server code')
    const shared = [...reach(server, ['value', 'type', 'dynamic'])].filter((module) => !module.startsWith('server/'))
    assert.deepEqual(shared, ['rules'], 'what the server code reaches of the browser side')
    // rules.ts is both sides': it reaches nothing of either.
    assert.deepEqual(graph.get('rules'), [], 'rules.ts imports nothing')
  })
})
