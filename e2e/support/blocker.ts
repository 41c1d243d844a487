/**
 * A real content blocker for e2e/blocker.spec.ts: Debian's uBlock Origin (webext-ublock-origin-firefox)
 * in Firefox, offline, in front of Trustpilot's real endpoint played on loopback.
 *
 * - Debian installs uBO unpacked in Firefox's system extension directory (SYSTEM_EXTENSIONS, the
 *   system scope, 8), where Firefox loads add-ons unsigned. Playwright's Firefox profile enables only
 *   the profile and application scopes (`extensions.enabledScopes: 5`); with 15, Firefox's own default,
 *   and `extensions.autoDisableScopes: 0`, uBO starts with the browser. Nothing else of the two
 *   browsers' prefs differs: the browser without it is the control.
 * - `network.dns.localDomains` makes Firefox resolve invitejs.trustpilot.com (and CONTROL_HOST, a
 *   name no list blocks) to loopback, where a TLS server on port 443, the real endpoint's, with a
 *   certificate made at test time, passes each connection to the HTTP stand-in (test/support/stand-in.ts).
 * - Every other host goes to a proxy on loopback that refuses it: uBO filters with the lists it
 *   ships (EasyPrivacy has `||invitejs.trustpilot.com^`) and can fetch no newer ones, whatever
 *   network the machine has.
 */
import { generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import { type AddressInfo, connect, createServer as createTcpServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createServer as createTlsServer } from 'node:tls'
import type { Page } from '@playwright/test'

/** Trustpilot's invitation host: the plugin's default endpoint is https://invitejs.trustpilot.com. */
export const TRUSTPILOT_HOST = 'invitejs.trustpilot.com'
/** Another name for the same loopback servers, in no filter list: what reaches them when Trustpilot's can't. */
export const CONTROL_HOST = 'not-blocked.test'
const MAPPED = [TRUSTPILOT_HOST, CONTROL_HOST]

const FIREFOX_APP_ID = '{ec8030f7-c20a-464f-9b0e-13a3a9e97384}'
export const UBLOCK_ID = 'uBlock0@raymondhill.net'
/** Where webext-ublock-origin-firefox puts uBO: Firefox's system extension directory, its system scope. */
export const SYSTEM_EXTENSIONS = `/usr/share/mozilla/extensions/${FIREFOX_APP_ID}`
/** Firefox's scopes: profile 1, user 2, application 4, system 8. Playwright's profile enables 1 + 4. */
const PLAYWRIGHT_SCOPES = 5
const USER_SCOPE = 2
const ALL_SCOPES = 15

/** The uBO the test loads, and how: the Debian package, or UBLOCK_ORIGIN_PATH (an unpacked uBO for Firefox). */
export type UblockOrigin = { dir: string; source: string; version: string }

export function findUblockOrigin(): UblockOrigin | { error: string } {
  const fromEnv = process.env.UBLOCK_ORIGIN_PATH
  const dir = fromEnv ? resolve(fromEnv) : join(SYSTEM_EXTENSIONS, UBLOCK_ID)
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
    const id = manifest.browser_specific_settings?.gecko?.id ?? manifest.applications?.gecko?.id
    if (id !== UBLOCK_ID) return { error: `${dir}/manifest.json is not uBlock Origin for Firefox (its id: ${id}).` }
    return { dir, source: fromEnv ? 'UBLOCK_ORIGIN_PATH' : 'webext-ublock-origin-firefox', version: manifest.version }
  } catch {
    return {
      error: [
        fromEnv
          ? `UBLOCK_ORIGIN_PATH is set to ${fromEnv}, but no unpacked uBlock Origin for Firefox (its manifest.json) is there.`
          : `No uBlock Origin in ${SYSTEM_EXTENSIONS} for the blocker test (e2e/blocker.spec.ts). Get it with:`,
        '  sudo apt-get install webext-ublock-origin-firefox   (Debian/Ubuntu: uBO with its lists, for Firefox)',
        'or point UBLOCK_ORIGIN_PATH at an unpacked uBlock Origin for Firefox.',
      ].join('\n'),
    }
  }
}

/**
 * Firefox's prefs for the blocker test: with uBO (its scope enabled) or without it (Playwright's
 * scopes), and otherwise the same. `proxyPort` is the refusing proxy's (`refuseTheInternet`).
 */
export function blockerPrefs(
  ublock: UblockOrigin | undefined,
  proxyPort: number,
): Record<string, string | number | boolean> {
  const fromEnv = ublock?.source === 'UBLOCK_ORIGIN_PATH'
  return {
    'network.dns.localDomains': MAPPED.join(','),
    'network.proxy.type': 1,
    'network.proxy.http': '127.0.0.1',
    'network.proxy.http_port': proxyPort,
    'network.proxy.ssl': '127.0.0.1',
    'network.proxy.ssl_port': proxyPort,
    // Loopback (127.0.0.1, localhost) never goes through a proxy; the mapped names must not either.
    'network.proxy.no_proxies_on': MAPPED.join(','),
    'extensions.autoDisableScopes': 0,
    // Debian's uBO is a system extension: every scope, as in Firefox's own defaults. UBLOCK_ORIGIN_PATH's
    // is the user scope's (ublockEnv), with the system scope left out so that only the one named loads.
    'extensions.enabledScopes': !ublock ? PLAYWRIGHT_SCOPES : fromEnv ? PLAYWRIGHT_SCOPES | USER_SCOPE : ALL_SCOPES,
    // Only the system directories spare an add-on Firefox's signature check: an unsigned build elsewhere
    // (Debian's, copied) needs it off, which Firefox ESR, Developer Edition and Nightly allow.
    ...(fromEnv ? { 'xpinstall.signatures.required': false } : {}),
  }
}

/**
 * With UBLOCK_ORIGIN_PATH, Firefox finds that uBO through a home directory of its own: an
 * extension proxy file (a file named by the add-on's id holding its directory) in
 * ~/.mozilla/extensions/<Firefox's id>/, the user scope. Without it, Debian's system directory serves.
 */
export async function ublockEnv(ublock: UblockOrigin): Promise<Record<string, string> | undefined> {
  if (ublock.source !== 'UBLOCK_ORIGIN_PATH') return undefined
  const home = await mkdtemp(join(tmpdir(), 'ublock-home-'))
  const extensions = join(home, '.mozilla', 'extensions', FIREFOX_APP_ID)
  await mkdir(extensions, { recursive: true })
  await writeFile(join(extensions, UBLOCK_ID), ublock.dir)
  return { ...(process.env as Record<string, string>), HOME: home }
}

/** The internet, as the blocker test's Firefox sees it: a proxy on loopback that refuses every host. */
export interface RefusingProxy {
  port: number
  /** The first line of each request it refused: `CONNECT ublockorigin.github.io:443 HTTP/1.1`. */
  refused: string[]
  close(): Promise<void>
}

export async function refuseTheInternet(): Promise<RefusingProxy> {
  const refused: string[] = []
  const sockets = new Set<Socket>()
  const server = createTcpServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    socket.once('data', (data) => {
      refused.push(String(data).split('\r\n')[0] ?? '')
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    })
  })
  const port = await listen(server, 0)
  return { port, refused, close: () => closeServer(server, sockets) }
}

/**
 * A server on loopback answering any request under any Host with 200 and counting it by its Host:
 * what the page asks to learn whether uBO is filtering (a request by Trustpilot's name refused, the
 * same one by CONTROL_HOST's answered), on a port of its own, as `||invitejs.trustpilot.com^`
 * matches any port.
 */
export interface Probe {
  port: number
  /** The page the checks run from. */
  url: string
  hosts: string[]
  close(): Promise<void>
}

export async function startProbe(): Promise<Probe> {
  const hosts: string[] = []
  const server = createHttpServer((req, res) => {
    if (req.url !== '/') hosts.push(req.headers.host?.replace(/:\d+$/, '') ?? '')
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end('<p>probe</p>')
  })
  const port = await listen(server, 0)
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    hosts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** From the page: does a request by Trustpilot's name, and one by CONTROL_HOST's, reach the probe? */
export const reachability = (page: Page, probe: Probe) =>
  page.evaluate(
    async ([trustpilot, control, port]) => {
      const reaches = (host: string) =>
        fetch(`http://${host}:${port}/probe`, { mode: 'no-cors', cache: 'no-store' }).then(
          () => true,
          () => false,
        )
      return { trustpilot: await reaches(trustpilot), control: await reaches(control) }
    },
    [TRUSTPILOT_HOST, CONTROL_HOST, probe.port] as const,
  )

/**
 * Waits until uBO filters the page's requests: Trustpilot's name refused while CONTROL_HOST's
 * reaches the same probe. Bounded; throws saying which half failed. Returns the milliseconds it took.
 */
export async function untilFiltering(page: Page, probe: Probe, timeoutMs = 15_000): Promise<number> {
  const started = Date.now()
  let last = { trustpilot: true, control: false }
  while (Date.now() - started < timeoutMs) {
    last = await reachability(page, probe)
    if (last.control && !last.trustpilot) return Date.now() - started
    await page.waitForTimeout(100)
  }
  throw new Error(
    last.control
      ? `uBlock Origin is not filtering: after ${timeoutMs} ms a request to ${TRUSTPILOT_HOST} still reaches loopback. ` +
          `Is it loaded (its scope in extensions.enabledScopes), with a list holding ||${TRUSTPILOT_HOST}^ (EasyPrivacy)?`
      : `the probe on loopback is out of reach by the name ${CONTROL_HOST}: network.dns.localDomains or the proxy prefs did not apply`,
  )
}

// A self-signed certificate in DER, built with node:crypto alone (Node can sign, not make certificates).
const der = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts)
  const n = body.length
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff]
  return Buffer.concat([Buffer.from([tag, ...length]), body])
}
const sequence = (...parts: Buffer[]) => der(0x30, ...parts)
const oid = (dotted: string) => {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number)
  const bytes = [40 * first + second]
  for (const n of rest) {
    const chunk = [n & 0x7f]
    for (let v = n >> 7; v; v >>= 7) chunk.unshift((v & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return der(0x06, Buffer.from(bytes))
}
const utcTime = (date: Date) =>
  der(
    0x17,
    Buffer.from(
      date
        .toISOString()
        .slice(2)
        .replace(/[-:T]|\.\d+/g, ''),
    ),
  )

/** A P-256 key and a self-signed certificate for `hosts` (subjectAltName), valid from yesterday to tomorrow. */
export function selfSignedCertificate(hosts: string[]): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const ecdsaWithSha256 = sequence(oid('1.2.840.10045.4.3.2'))
  const name = sequence(der(0x31, sequence(oid('2.5.4.3'), der(0x0c, Buffer.from(hosts[0] ?? 'localhost')))))
  const day = 86_400_000
  const subjectAltName = sequence(
    oid('2.5.29.17'),
    der(0x04, sequence(...hosts.map((host) => der(0x82, Buffer.from(host))))),
  )
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, Buffer.concat([Buffer.from([1]), randomBytes(8)])),
    ecdsaWithSha256,
    name,
    sequence(utcTime(new Date(Date.now() - day)), utcTime(new Date(Date.now() + day))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, sequence(subjectAltName)),
  )
  const signature = sign('sha256', tbs, privateKey)
  const body = sequence(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const cert = `-----BEGIN CERTIFICATE-----\n${body.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`
  // Node's own parser must accept it, signature and names included: a broken encoder fails here.
  const parsed = new X509Certificate(cert)
  if (!parsed.verify(publicKey) || hosts.some((host) => parsed.checkHost(host) !== host)) {
    throw new Error('the self-signed certificate did not verify')
  }
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert }
}

/** Trustpilot's host on 127.0.0.1:443 over TLS, each connection passed to the stand-in's HTTP port. */
export interface TrustpilotHost {
  /** The name (TLS SNI) each connection asked for, in order: TRUSTPILOT_HOST or CONTROL_HOST. */
  connections: string[]
  close(): Promise<void>
}

/**
 * Port 443 is the real endpoint's: the plugin's default URL names no port. Only one server can hold
 * it: the spec's tests take a Playwright lock, and a second process (another run on the machine)
 * waits here, bounded, until the port is free.
 */
export async function serveTrustpilotHost(standIn: { port: number }, waitMs = 30_000): Promise<TrustpilotHost> {
  const connections: string[] = []
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  const server = createTlsServer(selfSignedCertificate(MAPPED), (socket) => {
    connections.push(socket.servername || '(no SNI)')
    const upstream = connect(standIn.port, '127.0.0.1')
    track(upstream)
    socket.on('error', () => upstream.destroy())
    upstream.on('error', () => socket.destroy())
    socket.pipe(upstream).pipe(socket)
  })
  server.on('connection', track)
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      await listen(server, 443)
      break
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EACCES') {
        throw new Error(
          'Binding 127.0.0.1:443 was refused (EACCES): the blocker test serves https://invitejs.trustpilot.com, ' +
            'the plugin’s real endpoint, on loopback port 443. Run as root, or allow it: ' +
            'sudo sysctl net.ipv4.ip_unprivileged_port_start=443',
        )
      }
      if (code !== 'EADDRINUSE' || Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  return { connections, close: () => closeServer(server, sockets) }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy()
  return new Promise((r) => server.close(() => r()))
}
