// Console capture for the browser tests, the same code in every engine: Playwright adds it as an
// init script (e2e/support/fixtures.ts), and the harness page loads it as its first script, for
// drivers that can't inject one ahead of the page (WebDriver). It must run before anything logs.
//
// Why not the driver's own console events: Playwright renders a logged object as `Object`, and
// WebDriver has no console at all, so an email address inside a logged invitation would go unseen.
// Here every console method is wrapped, and every argument serialized whole, at the moment it is
// logged (a later mutation can't hide it): errors with name, message, stack and cause, nested
// objects, arrays, Maps, Sets, cycles. Each call becomes one line, `<method>: <args>`, in
// `window.consoleCapture.lines`; the original method is still called, so drivers see it too.
//
// It also records Content Security Policy violations from the first script on, in
// `window.consoleCapture.violations`, as `<directive> <blocked URI>`: WebDriver can't add a listener
// before the page's own scripts either.
;(() => {
  // Once per page: Playwright's init script and the harness's <script> may both run it.
  if (window.consoleCapture) return
  const lines = []
  const violations = []
  window.consoleCapture = { lines, violations }
  document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`))

  /** Past this depth an object is cut off; nothing the plugin logs comes close. */
  const MAX_DEPTH = 12

  const read = (object, key) => {
    try {
      return object[key]
    } catch (error) {
      return `[threw: ${error}]`
    }
  }

  /** `value` as text, everything reachable from it included; `ancestors` catches cycles. */
  function serialize(value, depth = 0, ancestors = new Set()) {
    if (value === null) return 'null'
    switch (typeof value) {
      case 'string':
        return depth === 0 ? value : JSON.stringify(value)
      case 'undefined':
        return 'undefined'
      case 'bigint':
        return `${value}n`
      case 'symbol':
        return value.toString()
      case 'function':
        return `[Function ${value.name || '(anonymous)'}]`
      case 'object':
        break
      default:
        return String(value)
    }
    if (ancestors.has(value)) return '[Circular]'
    if (depth >= MAX_DEPTH) return '[…]'
    if (value === window) return '[Window]'
    const inner = new Set(ancestors).add(value)
    const nested = (v) => serialize(v, depth + 1, inner)
    // Own enumerable properties, for every kind of object below: extras on an error or an array too.
    const props = (skip = []) => {
      let keys = []
      try {
        keys = Object.keys(value).filter((k) => !skip.includes(k))
      } catch {}
      return keys.map((k) => `${JSON.stringify(k)}: ${nested(read(value, k))}`)
    }
    const tag = Object.prototype.toString.call(value).slice(8, -1)
    if (value instanceof Error || tag === 'Error' || tag === 'DOMException') {
      // name, message and stack are not own enumerable properties in every engine: read each.
      const parts = ['name', 'message', 'stack'].map((k) => `${k}: ${nested(read(value, k))}`)
      if ('cause' in value) parts.push(`cause: ${nested(read(value, 'cause'))}`)
      if (Array.isArray(read(value, 'errors'))) parts.push(`errors: ${nested(read(value, 'errors'))}`)
      return `${tag} { ${[...parts, ...props(['name', 'message', 'stack', 'cause', 'errors'])].join(', ')} }`
    }
    if (Array.isArray(value)) {
      const items = Array.from(value, nested)
      return `[${[...items, ...props(items.map((_, i) => String(i)))].join(', ')}]`
    }
    if (value instanceof Map) {
      const entries = [...value].map(([k, v]) => `${nested(k)} => ${nested(v)}`)
      return `Map { ${entries.join(', ')} }`
    }
    if (value instanceof Set) return `Set { ${[...value].map(nested).join(', ')} }`
    if (value instanceof Date) return `Date ${Number.isNaN(+value) ? 'Invalid' : value.toISOString()}`
    if (value instanceof RegExp) return String(value)
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return `${tag} [${Array.from(value).join(', ')}]`
    if (typeof Node !== 'undefined' && value instanceof Node) return `${tag} ${value.outerHTML ?? value.textContent}`
    return `${tag === 'Object' ? '' : `${tag} `}{ ${props().join(', ')} }`
  }

  /** Every console method, wherever the engine keeps it (own properties, or Console.prototype). */
  const methods = new Set()
  for (let o = console; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name !== 'constructor' && typeof read(console, name) === 'function') methods.add(name)
    }
  }
  for (const name of methods) {
    const original = console[name]
    console[name] = function (...args) {
      try {
        lines.push(`${name}: ${args.map((a) => serialize(a)).join(' ')}`)
      } catch (error) {
        // Never let the capture break the page; say so, so a test can't pass on a silent gap.
        lines.push(`${name}: [capture failed: ${error}]`)
      }
      return original.apply(this, args)
    }
  }
})()
