/**
 * Processes a test starts (a runtime, `next build`, `next start`) on 127.0.0.1, each in its own
 * process group, so its children stop with it; and a free loopback port for one to listen on.
 * Shared by the recipe tests (test/recipes/) and the browser tests that serve a built shop (e2e/).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { connect, createServer } from 'node:net'

/**
 * The process groups started here and not yet exited: killed when the test process exits, even when
 * a test failed before it could stop what it started.
 */
const groups = new Set<number>()
process.on('exit', () => {
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL')
    } catch {}
  }
})

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
