// The Recorder: a destination plugin the test pages register beside Trustpilot's, so a test sees
// what analytics-next handed on to its destinations. Classic script, before the page's own:
// window.recorderPlugin(record) makes one, `record(type)` giving the handler of each event type.
window.recorderPlugin = (record) => ({
  name: 'Recorder',
  type: 'destination',
  version: '1.0.0',
  isLoaded: () => true,
  load: () => Promise.resolve(),
  track: record('track'),
  page: record('page'),
  identify: record('identify'),
  group: record('group'),
  alias: record('alias'),
  screen: record('screen'),
})
