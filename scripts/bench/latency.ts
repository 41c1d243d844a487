/**
 * Measure 3 of `npm run bench`: latency from `analytics.track('Order Completed')` to the first request
 * reaching the stand-in: how long a buyer who closes the tab right away has for the invitation to
 * leave.
 *
 * The page notes Date.now() just before calling track; the stand-in notes Date.now() when the
 * request arrived (browser and Node read the same machine clock, to the millisecond). Each order is
 * left to finish (both requests of the protocol) before the next, so each starts on an idle outbox.
 */
import { type Env, type Measured, median, ms, openShop, orderProperties, waitFor } from './shared'

/** Orders timed from track to the stand-in. */
const LATENCY_ORDERS = 20

export async function measureLatency(env: Env): Promise<Measured> {
  const { context, page } = await openShop(env, 'module')
  const standIn = env.standIn
  const all: number[] = []
  for (let i = 0; i < LATENCY_ORDERS; i++) {
    const id = `latency-${Date.now()}-${i}`
    const sentAt = await page.evaluate(
      async ({ properties }) => {
        const t0 = Date.now()
        await (window as any).analytics.track('Order Completed', properties)
        return t0
      },
      { properties: orderProperties(id, 2) },
    )
    const first = await waitFor(`the first request of order ${id}`, () =>
      standIn.requests.find((r) => r.body.referenceId === id),
    )
    await waitFor(`the delivery of order ${id}`, () => (standIn.created.has(id) ? true : undefined))
    all.push(first.at - sentAt)
  }
  await context.close()
  const latency = median(all)

  return {
    rows: [
      {
        metric: 'track(Order Completed) -> first request at stand-in (median)',
        result: `${ms(latency, 0)} (max ${ms(Math.max(...all), 0)})`,
        goal: '<= 20 ms',
        met: latency <= 20,
      },
    ],
    note: `3: ${LATENCY_ORDERS} orders in one page; per order ms: ${all.join(' ')} (the first pays the CORS preflight and a new connection).`,
  }
}
