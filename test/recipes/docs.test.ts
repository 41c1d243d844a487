/**
 * docs/relay.md shows the recipes the other tests here run: each file under example/relay/ is a code
 * block titled with its path, equal to the file, and every titled block is such a file. Its tables
 * of options (the relay's and toNodeHandler's) and answers hold the options and statuses
 * src/server/relay.ts has.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { RECIPES, REPO } from './support'

const DOC = readFileSync(join(REPO, 'docs', 'relay.md'), 'utf8')
const SOURCE = readFileSync(join(REPO, 'src', 'server', 'relay.ts'), 'utf8')
const blocks = new Map(
  [...DOC.matchAll(/^```\w+ title="([^"]+)"\n([\s\S]*?)^```$/gm)].map(([, path, code]) => [path, code]),
)
const recipes = readdirSync(RECIPES, { recursive: true, withFileTypes: true })
  .filter((entry) => entry.isFile())
  .map((entry) => join(entry.parentPath, entry.name).slice(REPO.length + 1))
  .sort()

/** The first column of the table whose header row starts with `| <first> `. */
function column(first: string): string[] {
  const start = DOC.indexOf(`| ${first} `)
  assert.ok(start >= 0, `docs/relay.md has a table starting with "${first}"`)
  const rows = DOC.slice(start).split('\n\n')[0]?.split('\n').slice(2) ?? []
  return rows.map((row) => row.split('|')[1]?.trim() ?? '')
}

test('every recipe file is a code block of docs/relay.md, and every titled block is a recipe file', () => {
  assert.ok(recipes.length >= 7, `recipes found: ${recipes.join(', ')}`)
  assert.deepEqual([...blocks.keys()].sort(), recipes)
})

for (const recipe of recipes) {
  test(`docs/relay.md shows ${recipe} as it is`, () => {
    assert.equal(blocks.get(recipe), readFileSync(join(REPO, recipe), 'utf8'))
  })
}

/** The options an interface of the source declares, in their order, as the docs write them. */
function declared(name: string): string[] {
  const body = new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`).exec(SOURCE)?.[1] ?? ''
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map(([, option]) => `\`${option}\``)
}

test('the options table names the options of TrustpilotRelayOptions, in their order', () => {
  assert.deepEqual(column('option'), declared('TrustpilotRelayOptions'))
})

test("toNodeHandler's options table names the options of NodeHandlerOptions, in their order", () => {
  assert.deepEqual(column('`toNodeHandler` option'), declared('NodeHandlerOptions'))
})

test('the table of answers has each status the relay answers with itself', () => {
  const statuses = [...new Set([...SOURCE.matchAll(/answer\(\s*(\d{3}),/g)].map(([, status]) => status))].sort()
  const documented = column('status').filter((status) => /^\d{3}$/.test(status))
  assert.deepEqual([...documented].sort(), statuses)
})

test('no line of docs/relay.md is longer than 200 characters', () => {
  const long = DOC.split('\n').filter((line) => line.length > 200)
  assert.deepEqual(long, [])
})
