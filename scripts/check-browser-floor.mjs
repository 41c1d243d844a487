// `npm run test:floor`: every file in dist/ runs in the browsers esbuild.config.mjs names as the floor
// (BROWSER_FLOOR), and the README says exactly those. For each built file and each browser, esbuild
// transforms the file for that browser alone; it must neither refuse (syntax it can't lower) nor
// change it (syntax it would have to lower), compared with the same transform for `esnext`. This
// checks what terser wrote, after esbuild's own lowering, so nothing later in the build can raise
// the floor unseen. It fails when it finds no file to check.
import { readdirSync, readFileSync } from 'node:fs'
import * as esbuild from 'esbuild'
import { BROWSER_FLOOR, inDist, NODE_FILES, OUTPUTS } from '../esbuild.config.mjs'

/** How the README names each browser of the floor: 'safari14.1' → 'Safari 14.1+'. */
const NAMES = { chrome: 'Chrome', edge: 'Edge', firefox: 'Firefox', safari: 'Safari', ios: 'iOS Safari' }
export const floorInWords = () =>
  BROWSER_FLOOR.map((target) => {
    const [, engine, version] = /^([a-z]+)([\d.]+)$/.exec(target)
    return `${NAMES[engine]} ${version}+`
  }).join(', ')

// dist/relay.js is server-side (Node 20+, workerd, Deno, Bun) and dist/integrity-snippet.js a Node
// command: no browser loads either (esbuild.config.mjs's NODE_FILES).
const nodeFiles = NODE_FILES.map(inDist)
const files = readdirSync('dist').filter((file) => file.endsWith('.js') && !nodeFiles.includes(file))
const problems = []
for (const file of files) {
  const code = readFileSync(`dist/${file}`, 'utf8')
  // The classic script is no module: parsed as one, `import` would mean something else.
  const format = file === 'trustpilot.global.js' ? undefined : 'esm'
  const transform = async (target) => (await esbuild.transform(code, { target, format, minify: true })).code
  const untouched = await transform('esnext')
  for (const target of BROWSER_FLOOR) {
    try {
      if ((await transform(target)) !== untouched)
        problems.push(`dist/${file} needs more than ${target}: esbuild lowers it`)
    } catch (error) {
      problems.push(`dist/${file} needs more than ${target}: ${error.errors?.[0]?.text ?? error}`)
    }
  }
}
const words = floorInWords()
if (!readFileSync('README.md', 'utf8').includes(words))
  problems.push(`README.md does not state the floor as "${words}"`)
// Every browser file the build writes (esbuild.config.mjs's OUTPUTS) must have been checked.
for (const [, , outfile] of OUTPUTS)
  if (!files.includes(outfile.replace(/^dist\//, ''))) problems.push(`${outfile} is missing: run npm run build`)

console.log(`browser floor ${words}: ${files.length} files × ${BROWSER_FLOOR.length} targets checked`)
for (const problem of problems) console.error(`  ${problem}`)
process.exit(problems.length ? 1 : 0)
