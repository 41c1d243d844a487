// Stand-in for Trustpilot's https://invitejs.trustpilot.com/tp.min.js (version 0.0.1121), behaving as
// the real script was observed to, point by point, so a test can fail the way the real script fails:
// - it starts only when window.TrustpilotObject names it; it drains that stub's queue (`tp.q`), then
//   replaces the stub;
// - tp('register', key); tp('on', 'createInvitation', cb): each listener fires once, then is removed;
// - tp('createInvitation', data): with no key it reports an error but still posts; with no data it
//   calls the listeners back with no arguments and stops. It mutates `data`: takes `products` and
//   `productSkus` off for the first request and adds `version`;
// - dedupe: localStorage `tpinvid` holds `recipientEmail + referenceId` of the last invitation only,
//   written before anything is sent; a call with the same pair returns silently (no request, no
//   callback);
// - it waits for window load, then adds a hidden iframe SIMPLICITY_ORIGIN/embed and waits, with no
//   timeout, for a message from that origin: JSON.parse(event.data.simplicity) goes into the body as
//   `simplicity`;
// - XHR POST {origin}/api/{key}/invitation, withCredentials, Content-Type: application/json; on 202 it
//   restores `products`/`productSkus` (default []) and posts again;
// - the listeners are called after the first answer, before the products request ends: cb(null) for
//   any status below 400, 0 included (a network or CORS failure); cb(new Error('Failed to create
//   invitation: ' + statusText)) for 400 and above; the status itself is not exposed;
// - on a later createInvitation it posts the previous order's products request again (its own bug).
// One difference, for the tests' sake: it posts to the origin it was loaded from (the real script
// always posts to https://invitejs.trustpilot.com), so served from a loopback stand-in it posts there.
// Every call is recorded in window.tpCalls.
;(() => {
  var SIMPLICITY_ORIGIN = 'https://simplicity.trustpilot.com'
  var VERSION = '0.0.1121'
  var name = window.TrustpilotObject
  var stub = name && window[name]
  if (typeof stub !== 'function') return
  var script = document.currentScript
  var apiOrigin = script ? new URL(script.src).origin : 'https://invitejs.trustpilot.com'
  var key = null
  var listeners = []
  var previousProducts = null
  window.tpCalls = window.tpCalls || []

  var simplicity = new Promise((resolve) => {
    function embed() {
      window.addEventListener('message', function onMessage(event) {
        if (event.origin !== SIMPLICITY_ORIGIN || !event.data || typeof event.data.simplicity !== 'string') return
        window.removeEventListener('message', onMessage)
        resolve(JSON.parse(event.data.simplicity))
      })
      var frame = document.createElement('iframe')
      frame.style.display = 'none'
      frame.src = `${SIMPLICITY_ORIGIN}/embed`
      document.body.appendChild(frame)
    }
    if (document.readyState === 'complete') embed()
    else window.addEventListener('load', embed)
  })

  function emit(...args) {
    var now = listeners
    listeners = []
    for (const listener of now) listener(...args)
  }

  function post(body, done) {
    var xhr = new XMLHttpRequest()
    xhr.open('POST', `${apiOrigin}/api/${key}/invitation`)
    xhr.withCredentials = true
    xhr.setRequestHeader('Content-Type', 'application/json')
    xhr.onloadend = () => done(xhr)
    xhr.send(JSON.stringify(body))
  }

  function createInvitation(data) {
    if (!key) console.error('Trustpilot: no integration key registered')
    if (!data) return emit()
    var marker = data.recipientEmail + data.referenceId
    try {
      if (localStorage.getItem('tpinvid') === marker) return
      localStorage.setItem('tpinvid', marker)
    } catch (_) {}
    var products = data.products
    var productSkus = data.productSkus
    delete data.products
    delete data.productSkus
    data.version = VERSION
    simplicity.then((value) => {
      data.simplicity = value
      if (previousProducts) post(previousProducts, () => {})
      post(data, (xhr) => {
        if (xhr.status >= 400) emit(new Error(`Failed to create invitation: ${xhr.statusText}`))
        else emit(null, data)
        if (xhr.status === 202) {
          data.products = products || []
          data.productSkus = productSkus || []
          previousProducts = data
          post(data, () => {})
        }
      })
    })
  }

  function tp(command, arg, callback) {
    window.tpCalls.push([command, command === 'on' ? arg : JSON.parse(JSON.stringify(arg ?? null))])
    if (command === 'register') key = arg
    else if (command === 'on' && arg === 'createInvitation') listeners.push(callback)
    else if (command === 'createInvitation') createInvitation(arg)
  }

  for (const args of stub.q || []) tp(...args)
  window[name] = tp
})()
