/**
 * dist/integrity.json and the command that prints a page's snippet from it (docs/integrity.md), on
 * the files `npm run build` wrote: one hash per file a browser may load (esbuild.config.mjs's
 * OUTPUTS, not a list of this test's), each the SRI value of the file's bytes, none for the Node
 * files (the relay, the command), shipped in the tarball, and never referenced by a browser file
 * (the hashes cost no page a byte). The command is run as a shop runs it, `node dist/integrity-snippet.js`.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { COMMAND, INTEGRITY, inDist, NODE_FILES, OUTPUTS } from '../esbuild.config.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIST = join(ROOT, 'dist')
/**
 * In Stryker's sandbox (npm run test:mutation) src/ is instrumented, and dist/ whatever was copied in:
 * these tests are about the build, which no mutant of src/ changes.
 */
const instrumented = readFileSync(join(ROOT, 'src', 'plugin.ts'), 'utf8').includes('stryMutAct_9fa48')
const skip = instrumented && 'src/ is instrumented by Stryker'

/** What a browser may load: every output of the build (ES modules and the classic script). */
const browserFiles = (OUTPUTS as Array<[string, string, string]>).map(([, , outfile]) => inDist(outfile))
const readIntegrity = () => JSON.parse(readFileSync(join(ROOT, INTEGRITY), 'utf8')) as Record<string, string>
// Computed here, not with the build's integrityOf: this test checks what the build wrote.
const sri = (bytes: Buffer) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`

describe('dist/integrity.json', { skip }, () => {
  test('one entry per file a browser may load (OUTPUTS), in the build order, and nothing else', () => {
    assert.ok(browserFiles.length >= 5, `OUTPUTS names ${browserFiles.length} files`)
    assert.deepEqual(Object.keys(readIntegrity()), browserFiles)
  })

  test('every .js file in dist/ is a browser file with an entry, or a Node file (the relay, the command)', () => {
    const integrity = readIntegrity()
    const nodeFiles = (NODE_FILES as string[]).map(inDist)
    assert.deepEqual(nodeFiles.sort(), ['integrity-snippet.js', 'relay.js'])
    const js = readdirSync(DIST).filter((file) => file.endsWith('.js'))
    const unhashed = js.filter((file) => !nodeFiles.includes(file) && !(file in integrity))
    assert.deepEqual(unhashed, [], 'browser files in dist/ without a hash in integrity.json')
    for (const file of nodeFiles) assert.ok(!(file in integrity), `${file} runs in Node: it has no hash`)
  })

  test("each value is the SRI hash (sha384) of the file's bytes", () => {
    for (const [file, value] of Object.entries(readIntegrity())) {
      assert.match(value, /^sha384-[A-Za-z0-9+/]{64}$/, `${file}'s value`)
      assert.equal(value, sri(readFileSync(join(DIST, file))), `dist/${file} does not match its hash`)
    }
  })

  test('no browser file references it: the hashes cost no page a byte', () => {
    for (const file of browserFiles) {
      assert.ok(!readFileSync(join(DIST, file), 'utf8').includes('integrity.json'), `dist/${file} names integrity.json`)
    }
  })

  test('is in the packed tarball, with the command package.json names as its bin, and exported', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: ROOT,
    })
    const [{ files }] = JSON.parse(stdout) as [{ files: Array<{ path: string }> }]
    const packed = files.map((file) => file.path)
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    assert.deepEqual(pkg.bin, { 'analytics-plugin-trustpilot-integrity': COMMAND[1] })
    assert.equal(pkg.exports['./integrity.json'], `./${INTEGRITY}`)
    for (const file of [INTEGRITY, COMMAND[1] as string, ...browserFiles.map((name) => `dist/${name}`)])
      assert.ok(packed.includes(file), `${file} is not in the tarball`)
  })
})

// ---- The command ------------------------------------------------------------------------------

const COMMAND_FILE = join(ROOT, COMMAND[1] as string)
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string
const CDN = `https://cdn.jsdelivr.net/npm/analytics-plugin-trustpilot@${VERSION}/dist/`

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(args: string[], file = COMMAND_FILE): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    )
  })
}

/** The inline <script> elements of the output: their attributes (decoded) and text. */
function scripts(html: string) {
  return [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map(([, attributes, text]) => ({
    attributes: Object.fromEntries(
      [...(attributes as string).matchAll(/([a-z]+)(?:="([^"]*)")?/g)].map(([, name, value]) => [
        name,
        (value ?? '')
          .replaceAll('&quot;', '"')
          .replaceAll('&lt;', '<')
          .replaceAll('&gt;', '>')
          .replaceAll('&amp;', '&'),
      ]),
    ),
    text: text as string,
  }))
}

/** The import map's integrity entries, parsed from the output's first script. */
function importMap(html: string): Record<string, string> {
  const [map] = scripts(html)
  assert.equal(map?.attributes.type, 'importmap', 'the output starts with the import map')
  const parsed = JSON.parse(map.text)
  assert.deepEqual(Object.keys(parsed), ['integrity'])
  return parsed.integrity
}

const esModules = (OUTPUTS as Array<[string, string, string]>)
  .filter(([, format]) => format === 'esm')
  .map(([, , outfile]) => inDist(outfile))
const classic = inDist((OUTPUTS as Array<[string, string, string]>).find(([, format]) => format === 'iife')![2])

describe('the integrity command (dist/integrity-snippet.js)', { skip }, () => {
  test('a Node script with no dependency: only node: built-ins', () => {
    const code = readFileSync(COMMAND_FILE, 'utf8')
    assert.ok(code.startsWith('#!/usr/bin/env node\n'))
    const imported = [...code.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1])
    assert.ok(imported.length > 0)
    assert.deepEqual(
      imported.filter((name) => !name?.startsWith('node:')),
      [],
    )
  })

  for (const base of [CDN, CDN.slice(0, -1)]) {
    test(`--route module, --base ${base.endsWith('/') ? 'with' : 'without'} its final slash`, async () => {
      const { code, stdout, stderr } = await run(['--base', base, '--route', 'module'])
      assert.equal(code, 0, stderr)
      const integrity = readIntegrity()
      // One entry per ES module, at its full URL under the base, with integrity.json's hash.
      assert.deepEqual(
        importMap(stdout),
        Object.fromEntries(esModules.map((file) => [`${CDN}${file}`, integrity[file]])),
      )
      const [, load] = scripts(stdout)
      assert.deepEqual(load?.attributes, {})
      assert.ok(load?.text.includes(`import("${CDN}index.js").then(({ trustpilot }) =>`), load?.text)
      assert.match(
        load?.text ?? '',
        /analytics\.register\(trustpilot\(\{ apiKey: '<TRUSTPILOT_INTEGRATION_KEY>' \}\)\)/,
      )
      assert.equal(scripts(stdout).length, 2)
    })
  }

  test('--route classic: the import map, then trustpilot.global.js with its integrity and crossorigin', async () => {
    const base = 'http://127.0.0.1:8080/static/trustpilot/'
    const { code, stdout, stderr } = await run(['--route', 'classic', '--base', base])
    assert.equal(code, 0, stderr)
    const integrity = readIntegrity()
    assert.deepEqual(
      importMap(stdout),
      Object.fromEntries(esModules.map((file) => [`${base}${file}`, integrity[file]])),
    )
    const [, tag, register] = scripts(stdout)
    assert.deepEqual(tag, {
      attributes: { src: `${base}${classic}`, integrity: integrity[classic], crossorigin: 'anonymous' },
      text: '',
    })
    assert.match(
      register?.text ?? '',
      /analytics\.register\(trustpilotDestination\(\{ apiKey: '<TRUSTPILOT_INTEGRATION_KEY>' \}\)\)/,
    )
  })

  for (const route of ['module', 'classic']) {
    test(`--nonce puts the nonce, escaped, on each script (--route ${route})`, async () => {
      const { code, stdout } = await run(['--base', CDN, '--route', route, '--nonce', '{{ nonce "x" }}'])
      assert.equal(code, 0)
      const all = scripts(stdout)
      assert.equal(all.length, route === 'module' ? 2 : 3)
      for (const script of all) assert.equal(script.attributes.nonce, '{{ nonce "x" }}')
      assert.ok(stdout.includes('nonce="{{ nonce &quot;x&quot; }}"'))
    })
  }

  test('--help: the usage, exit code 0', async () => {
    const { code, stdout } = await run(['--help'])
    assert.equal(code, 0)
    assert.match(
      stdout,
      /^Usage: analytics-plugin-trustpilot-integrity --base <URL of dist\/> --route <module\|classic>/,
    )
  })

  for (const [args, message] of [
    [[], /--base <URL of dist\/> is required/],
    [['--base', CDN], /--route module\|classic is required/],
    [['--base', CDN, '--route', 'esm'], /--route must be "module" or "classic", not "esm"/],
    [['--base', '/dist/', '--route', 'module'], /--base must be an absolute URL .* not "\/dist\/"/],
    [['--base', 'ftp://cdn.example/dist/', '--route', 'module'], /--base must be an http\(s\) URL/],
    [['--base', `${CDN}?v=2`, '--route', 'module'], /--base must have no query or fragment/],
    [
      ['--base', 'https://cdn.jsdelivr.net/npm/analytics-plugin-trustpilot@latest/dist/', '--route', 'module'],
      new RegExp(
        `names analytics-plugin-trustpilot@latest, but these hashes are version ${VERSION.replaceAll('.', '\\.')}'s`,
      ),
    ],
    [['--base', 'https://unpkg.com/analytics-plugin-trustpilot@0/dist/', '--route', 'module'], /@0, but/],
    [['--base', CDN, '--route', 'module', '--bogus'], /Unknown option '--bogus'/],
    [['--base', CDN, '--route', 'module', 'extra'], /positional argument/],
    [['--base'], /argument missing/],
  ] as Array<[string[], RegExp]>) {
    test(`wrong arguments (${args.join(' ') || 'none'}): a message, no output, exit code 2`, async () => {
      const { code, stdout, stderr } = await run(args)
      assert.equal(code, 2)
      assert.equal(stdout, '')
      assert.match(stderr, /^analytics-plugin-trustpilot-integrity: /)
      assert.match(stderr, message)
      assert.match(stderr, /Run analytics-plugin-trustpilot-integrity --help for usage\.\n$/)
    })
  }

  test('no integrity.json beside it: says which file it could not read, exit code 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trustpilot-integrity-'))
    try {
      copyFileSync(COMMAND_FILE, join(dir, 'integrity-snippet.js'))
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }')
      const { code, stdout, stderr } = await run(
        ['--base', CDN, '--route', 'module'],
        join(dir, 'integrity-snippet.js'),
      )
      assert.equal(code, 1)
      assert.equal(stdout, '')
      assert.match(stderr, new RegExp(`cannot read ${join(dir, 'integrity.json')}`))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
