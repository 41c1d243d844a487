// What the snippet-less test pages load as a classic script: analytics-next's npm build, as a shop's
// own bundle would include it.
import { AnalyticsBrowser } from '@segment/analytics-next'

;(window as unknown as { AnalyticsBrowser: typeof AnalyticsBrowser }).AnalyticsBrowser = AnalyticsBrowser
