/**
 * The published package as a shop installs it: `npm pack`ed from the repository and unpacked into a
 * consumer project's node_modules. e2e/package.spec.ts and e2e/bundlers.spec.ts bundle shops from it.
 */
import { execFile } from 'node:child_process'
import { mkdir, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

export const REPO = join(import.meta.dirname, '..', '..')
export const PACKAGE = 'analytics-plugin-trustpilot'

/** Packs the repository's package into `dir` and returns the tarball's path. */
export async function pack(dir: string): Promise<string> {
  // --ignore-scripts: pack the dist/ that `npm run build` made; a pack-time script must not rebuild
  // it under the other tests that are loading it.
  const { stdout } = await promisify(execFile)(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', dir],
    { cwd: REPO },
  )
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }]
  return join(dir, filename)
}

/**
 * Makes `consumer` a project with the package installed from `tarball` and analytics-next beside it,
 * as a shop's `npm install` would leave them.
 */
export async function installConsumer(tarball: string, consumer: string): Promise<void> {
  // Installed by hand from the tarball (npm puts its files under package/), not from the registry:
  // the test works offline and uses exactly the files that would be published.
  const installed = join(consumer, 'node_modules', PACKAGE)
  await mkdir(installed, { recursive: true })
  await promisify(execFile)('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'])
  // analytics-next is the shop's own dependency: linked from the repository's node_modules. Every
  // bundler resolves a link to its real path, so analytics-next's own dependencies resolve there too.
  await mkdir(join(consumer, 'node_modules', '@segment'), { recursive: true })
  await symlink(
    join(REPO, 'node_modules', '@segment', 'analytics-next'),
    join(consumer, 'node_modules', '@segment', 'analytics-next'),
    'dir',
  )
}
