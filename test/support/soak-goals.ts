/**
 * The soak's goals (scripts/soak.ts), as pure functions of what the run recorded, so that each can be
 * unit-tested against a trail that should miss it (test/soak-goals.test.ts). The soak prints every
 * goal judged here and exits non-zero when one is missed: a goal that can't fail the run is no goal.
 */

/** One request as the stand-in recorded it (test/support/stand-in.ts's InvitationRecord, what is read here). */
export interface TrailRequest {
  /** When the stand-in recorded it (ms since the epoch): for a 201, when Trustpilot created the invitation. */
  at: number
  body: Record<string, unknown>
  status: number | 'reset' | 'hang'
}

/** What one soak run recorded, on the driver's side, the pages' side and the stand-in's. */
export interface SoakTrail {
  /** Order ids the driver called `track` with, each once however often it was tracked. */
  planned: string[]
  /** Order ids some page's `track` received, by the pages' own record in localStorage. */
  received: Set<string>
  /** Every request to the stand-in, in order of arrival. */
  requests: TrailRequest[]
  /** When a page was sent away (navigation, reload, closed tab). */
  deaths: number[]
  /** When a page of the shop was opened and the plugin had started on it. */
  births: number[]
  /** How long the stand-in holds a hung request before it drops the connection. */
  hangMs: number
  /** Steps of the driver (a navigation, a script), and how many of them failed or timed out. */
  steps: number
  faults: number
}

export interface Goal {
  name: string
  /** What the run measured for it, printed beside the verdict. */
  result: string
  met: boolean
}

/**
 * A page sent away this long before Trustpilot created an invitation (its request on the way) to this
 * long after (the 201 on its way back to a busy page) never heard it: the next page sends it again.
 */
export const DEATH_WINDOW = { beforeMs: 500, afterMs: 300 }
/**
 * Chromium sends a hung keepalive POST again by itself when the server drops the connection: the
 * same body arrives at once (a few ms) after the drop. Anything later than this is no such resend.
 */
export const RESEND_WINDOW_MS = 1_000
/** Goals on the share of planned orders the pages received, and of the driver's steps that faulted. */
export const MIN_RECEIVED_SHARE = 0.9
export const MAX_FAULT_SHARE = 0.02

const isCreation = (r: TrailRequest) => r.status === 201 || r.status === 200
const referenceOf = (r: TrailRequest) => String(r.body.referenceId)

/** Why a creation after an invitation's first one happened, when the trail can tell; undefined if not. */
export type DuplicateCause = 'page death' | 'browser resend'

export interface Duplicate {
  referenceId: string
  /** When each extra creation (the second, third, …) happened, and its cause if explained. */
  extra: Array<{ at: number; cause: DuplicateCause | undefined }>
}

/**
 * The browser's own resend: a request of this reference with the same body hung at the stand-in, the
 * stand-in dropped it (`hangMs` after it arrived), and this creation came within RESEND_WINDOW_MS of
 * that drop, after the invitation had already been created, with no page opened in that window that
 * could have sent it instead.
 */
function isBrowserResend(creation: TrailRequest, earlierCreation: TrailRequest, trail: SoakTrail): boolean {
  const body = JSON.stringify(creation.body)
  return trail.requests.some((hung) => {
    if (hung.status !== 'hang' || JSON.stringify(hung.body) !== body) return false
    const droppedAt = hung.at + trail.hangMs
    const inWindow = creation.at >= droppedAt && creation.at <= droppedAt + RESEND_WINDOW_MS
    const alreadyCreated = earlierCreation.at <= droppedAt
    const newPage = trail.births.some((t) => t >= droppedAt - RESEND_WINDOW_MS && t <= creation.at)
    return inWindow && alreadyCreated && !newPage
  })
}

/** Every invitation created more than once, each extra creation with its cause where the trail shows one. */
export function findDuplicates(trail: SoakTrail): Duplicate[] {
  const creations = new Map<string, TrailRequest[]>()
  for (const request of trail.requests.filter(isCreation)) {
    const ref = referenceOf(request)
    creations.set(ref, [...(creations.get(ref) ?? []), request])
  }
  const duplicates: Duplicate[] = []
  for (const [referenceId, all] of creations) {
    if (all.length < 2) continue
    const sorted = [...all].sort((a, b) => a.at - b.at)
    const extra = sorted.slice(1).map((creation, i) => {
      const earlier = sorted.slice(0, i + 1)
      // The page that sent an earlier creating request died before hearing its answer.
      const deathNear = earlier.some((c) =>
        trail.deaths.some((t) => t >= c.at - DEATH_WINDOW.beforeMs && t <= c.at + DEATH_WINDOW.afterMs),
      )
      const cause: DuplicateCause | undefined = deathNear
        ? 'page death'
        : isBrowserResend(creation, sorted[i] as TrailRequest, trail)
          ? 'browser resend'
          : undefined
      return { at: creation.at, cause }
    })
    duplicates.push({ referenceId, extra })
  }
  return duplicates
}

export interface Verdict {
  /** Received orders Trustpilot never created: lost. */
  lost: string[]
  /** Planned orders no page received (their `track` never reached a page: a driver fault). */
  notReceived: string[]
  /** Invitations created that no page recorded receiving (should be none: the record would be wrong). */
  createdUnrecorded: string[]
  duplicates: Duplicate[]
  goals: Goal[]
}

const percent = (n: number, of: number) => (of ? `${((100 * n) / of).toFixed(1)}%` : 'n/a')

/** Judges a run: every goal the soak prints, each met or missed. A run that measured nothing misses them. */
export function judgeSoak(trail: SoakTrail): Verdict {
  const created = new Set(trail.requests.filter(isCreation).map(referenceOf))
  const planned = new Set(trail.planned)
  const received = [...trail.received].filter((id) => planned.has(id))
  const lost = received.filter((id) => !created.has(id))
  const notReceived = [...planned].filter((id) => !trail.received.has(id))
  const createdUnrecorded = [...created].filter((id) => planned.has(id) && !trail.received.has(id))
  const duplicates = findDuplicates(trail)
  const extra = duplicates.flatMap((d) => d.extra)
  const unexplained = extra.filter((e) => !e.cause).length
  const goals: Goal[] = [
    {
      name: 'nothing received is lost',
      result: `${lost.length} of ${received.length} received lost`,
      // Nothing received means nothing was measured: that is no pass.
      met: received.length > 0 && lost.length === 0,
    },
    {
      name: `pages received >= ${100 * MIN_RECEIVED_SHARE}% of the planned orders`,
      result: `${received.length}/${planned.size} (${percent(received.length, planned.size)})`,
      met: planned.size > 0 && received.length >= MIN_RECEIVED_SHARE * planned.size,
    },
    {
      name: `driver faults < ${100 * MAX_FAULT_SHARE}% of its steps`,
      result: `${trail.faults}/${trail.steps} (${percent(trail.faults, trail.steps)})`,
      met: trail.steps > 0 && trail.faults < MAX_FAULT_SHARE * trail.steps,
    },
    {
      name: 'every duplicate tied to a page death or a browser resend',
      result: `${extra.length - unexplained} of ${extra.length} extra creation(s) explained`,
      met: unexplained === 0,
    },
  ]
  return { lost, notReceived, createdUnrecorded, duplicates, goals }
}
