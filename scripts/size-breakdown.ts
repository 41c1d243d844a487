/**
 * `npm run size:breakdown`: where the gzipped bytes of dist/index.js (the entry every page loads) and
 * dist/delivery.js (the module loaded on demand) go, each built exactly as
 * `npm run build` builds it (esbuild.config.mjs's `bundle()`) and measured as size-limit measures
 * (gzip level 9).
 *
 * - Per source file: how many gzipped bytes the bundle loses when that file's characters are cut
 *   out of it (found through the source map). The result is no longer valid JavaScript, but gzip
 *   doesn't care, and it is the honest marginal cost of the file: what it adds on top of the rest.
 * - Messages: the same bundle rebuilt with every string literal and template that contains a space
 *   (the reasons, errors and warnings) replaced by an empty string. What is left is the floor of the
 *   code itself, whatever the wording.
 */
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import type { Plugin } from 'esbuild'
import ts from 'typescript'
import { bundle, OUTPUTS, pluginsFor } from '../esbuild.config.mjs'

const gzip = (text: string) => gzipSync(text, { level: 9 }).length

/** Replaces every string with a space in it by '' (imports aside), so no message is left. */
const withoutMessages: Plugin = {
  name: 'without-messages',
  setup(build) {
    build.onLoad({ filter: /[/\\]src[/\\].*\.ts$/ }, (args) => {
      const source = ts.createSourceFile(args.path, readFileSync(args.path, 'utf8'), ts.ScriptTarget.ES2022, true)
      const empty: ts.TransformerFactory<ts.SourceFile> = (context) => (root) => {
        const visit = (node: ts.Node): ts.Node => {
          const isMessage =
            (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) &&
            node.getText().includes(' ') &&
            !ts.isImportDeclaration(node.parent) &&
            !ts.isExportDeclaration(node.parent)
          return isMessage ? ts.factory.createStringLiteral('') : ts.visitEachChild(node, visit, context)
        }
        return ts.visitNode(root, visit) as ts.SourceFile
      }
      const [stripped] = ts.transform(source, [empty]).transformed
      return { contents: ts.createPrinter().printFile(stripped as ts.SourceFile), loader: 'ts' }
    })
  },
}

/** The source file each character of the (single-line) bundle came from, from its source map. */
function ownersOf(code: string, map: { sources: string[]; mappings: string }): number[] {
  const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const decode = (segment: string) => {
    const values: number[] = []
    let value = 0
    let shift = 0
    for (const char of segment) {
      const digit = digits.indexOf(char)
      value += (digit & 31) << shift
      if (digit & 32) shift += 5
      else {
        values.push(value & 1 ? -(value >> 1) : value >> 1)
        value = 0
        shift = 0
      }
    }
    return values
  }
  const owners = new Array<number>(code.length).fill(-1)
  let column = 0
  let source = 0
  const starts: Array<[number, number]> = []
  for (const segment of (map.mappings.split(';')[0] ?? '').split(',').filter(Boolean)) {
    const [columnDelta = 0, sourceDelta] = decode(segment)
    column += columnDelta
    if (sourceDelta !== undefined) source += sourceDelta
    starts.push([column, source])
  }
  starts.forEach(([start, owner], i) => {
    const end = starts[i + 1]?.[0] ?? code.length
    owners.fill(owner, start, end)
  })
  return owners
}

for (const [entry, , outfile] of OUTPUTS.filter(([, format]) => format === 'esm')) {
  const plugins = pluginsFor('esm')
  const built = await bundle(entry, 'esm', outfile, plugins)
  const total = gzip(built.code)
  const map = JSON.parse(built.map) as { sources: string[]; mappings: string }
  const owners = ownersOf(built.code, map)

  const rows = map.sources.map((name, index) => {
    const rest = [...built.code].filter((_, at) => owners[at] !== index).join('')
    return { file: name.replace(/^(\.\.\/)+/, ''), minified: built.code.length - rest.length, gzip: total - gzip(rest) }
  })
  rows.sort((a, b) => b.gzip - a.gzip)

  const bare = await bundle(entry, 'esm', outfile, [...plugins, withoutMessages])
  const bareTotal = gzip(bare.code)

  console.log(`${outfile} as built: ${built.code.length} B minified, ${total} B gzip\n`)
  console.log('file                     minified   gzip it adds')
  for (const row of rows) {
    console.log(`${row.file.padEnd(24)} ${String(row.minified).padStart(8)} B ${String(row.gzip).padStart(8)} B`)
  }
  console.log(`\nwith every message string emptied: ${bareTotal} B gzip (the messages cost ${total - bareTotal} B)\n`)
}
