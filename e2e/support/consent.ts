/**
 * Segment's consent tools (@segment/analytics-consent-tools, createWrapper) as the browser tests set
 * them up, like a shop: Trustpilot in the category Marketing, the Recorder (any other destination) in
 * Analytics. The buyer allows Analytics either way, so events still flow and only Trustpilot's
 * category is in question (with every allowed category unmapped, the consent tools' source
 * middleware would drop the event for every destination, and a test could not tell who gated it).
 */
export const MAPPINGS = { Trustpilot: ['Marketing'], Recorder: ['Analytics'] }
export const DENIED = { Analytics: true, Marketing: false }
export const GRANTED = { Analytics: true, Marketing: true }

/** The same categories as the Segment app puts them in the CDN settings, for each destination. */
export const CONSENT_CDN_SETTINGS = {
  integrations: {
    Trustpilot: { consentSettings: { categories: ['Marketing'] } },
    Recorder: { consentSettings: { categories: ['Analytics'] } },
  },
  consentSettings: { allCategories: ['Analytics', 'Marketing'], hasUnmappedDestinations: false },
}

/** The reason of an order a destination middleware dropped: the consent tools' opt-out gate. */
export const DROPPED = 'dropped by destination middleware'
