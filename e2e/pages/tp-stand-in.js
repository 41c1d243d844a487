// Stand-in for Trustpilot's https://invitejs.trustpilot.com/tp.min.js in the browser tests. Like the
// real script it drains the `tp` queue stub, answers `tp('on', 'createInvitation', cb)` and mutates
// the invitation object it is given. Every call is recorded in window.tpCalls.
;(() => {
  var queued = window.tp?.q || []
  var listeners = {}
  window.tpCalls = window.tpCalls || []
  function tp(command, arg, callback) {
    window.tpCalls.push([command, command === 'on' ? arg : JSON.parse(JSON.stringify(arg))])
    if (command === 'on') {
      listeners[arg] = listeners[arg] || []
      listeners[arg].push(callback)
    }
    if (command === 'createInvitation') {
      arg.recipientEmail = 'mutated-by-tp@example.com'
      setTimeout(() => {
        ;(listeners.createInvitation || []).forEach((cb) => {
          cb({ success: true })
        })
      }, 10)
    }
  }
  window.tp = tp
  queued.forEach((args) => {
    tp.apply(null, args)
  })
})()
