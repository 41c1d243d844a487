/**
 * msw handlers that play Trustpilot's invitation endpoint. The same handlers serve the Node tests
 * (msw/node) and the browser tests, as a real loopback server (e2e/support/trustpilot-server.ts).
 */
import { delay, HttpResponse, http } from 'msw'
import { DEFAULT_ENDPOINT } from './fixtures'

/**
 * How the fake answers: 'protocol' is Trustpilot's normal flow (202 to a request without products,
 * 201 to one with them); a number is that status; 'network-error' fails the connection; 'hang'
 * never answers.
 */
export type Behaviour = 'protocol' | 'network-error' | 'hang' | number

export interface RecordedRequest {
  apiKey: string
  url: string
  contentType: string | null
  body: Record<string, unknown>
  keepalive: boolean
  /** Set once the client aborted the request (a timeout). */
  aborted: boolean
}

export interface FakeTrustpilot {
  handlers: ReturnType<typeof http.post>[]
  requests: RecordedRequest[]
  /** Answers, in order, for the next requests; then `fallback`. */
  script: Behaviour[]
  fallback: Behaviour
  /** Sent as Retry-After with every answer, when set. */
  retryAfter?: string
}

const cors = (request: Request) => ({
  'Access-Control-Allow-Origin': request.headers.get('Origin') ?? '*',
  'Access-Control-Allow-Credentials': 'true',
  'Access-Control-Allow-Methods': 'POST',
  'Access-Control-Allow-Headers': 'Content-Type',
})

/** @param endpoint the origin (and path) to answer on; '' for a server's own origin */
export function fakeTrustpilot(endpoint = DEFAULT_ENDPOINT, fallback: Behaviour = 'protocol'): FakeTrustpilot {
  const fake: FakeTrustpilot = { handlers: [], requests: [], script: [], fallback }
  fake.handlers = [
    http.options(
      `${endpoint}/api/:apiKey/invitation`,
      ({ request }) => new HttpResponse(null, { status: 204, headers: cors(request) }),
    ),
    http.post(`${endpoint}/api/:apiKey/invitation`, async ({ request, params }) => {
      const body = (await request.json()) as Record<string, unknown>
      const record: RecordedRequest = {
        apiKey: String(params.apiKey),
        url: request.url,
        contentType: request.headers.get('Content-Type'),
        body,
        keepalive: request.keepalive,
        aborted: request.signal.aborted,
      }
      request.signal.addEventListener('abort', () => {
        record.aborted = true
      })
      fake.requests.push(record)
      const behaviour = fake.script.shift() ?? fake.fallback
      if (behaviour === 'network-error') return HttpResponse.error()
      if (behaviour === 'hang') {
        await delay('infinite')
      }
      const status = behaviour === 'protocol' ? ('products' in body ? 201 : 202) : (behaviour as number)
      const headers: Record<string, string> = cors(request)
      if (fake.retryAfter !== undefined) headers['Retry-After'] = fake.retryAfter
      return new HttpResponse(null, { status, headers })
    }),
  ]
  return fake
}
