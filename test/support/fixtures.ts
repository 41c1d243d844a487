/** The seed example from Segment's docs for this destination, and what Trustpilot must receive. */
export const SEED_PROPERTIES = {
  checkout_id: 'fksdjfsdjfisjf9sdfjsd9f',
  order_id: '50314b8e9bcf000000000000',
  email: 'test@example.com',
  name: 'John',
  surname: 'Johnson',
  affiliation: 'Google Store',
  total: 27.5,
  revenue: 25.0,
  shipping: 3,
  tax: 2,
  discount: 2.5,
  coupon: 'hasbros',
  currency: 'USD',
  products: [
    {
      product_id: '507f1f77bcf86cd799439011',
      sku: '45790-32',
      name: 'Monopoly: 3rd Edition',
      price: 19,
      quantity: 1,
      category: 'Games',
      url: 'https://www.example.com/product/path',
      image_url: 'https://www.example.com/product/path.jpg',
    },
    {
      product_id: '505bd76785ebb509fc183733',
      sku: '46493-32',
      name: 'Uno Card Game',
      price: 3,
      quantity: 2,
      category: 'Games',
    },
  ],
}

export const SEED_FIRST_BODY = {
  recipientEmail: 'test@example.com',
  recipientName: 'John Johnson',
  referenceId: '50314b8e9bcf000000000000',
  source: 'InvitationScript',
  // As Trustpilot's own shop integrations send them: the order's total (else revenue) and currency.
  totalCost: 27.5,
  currency: 'USD',
}

export const SEED_SECOND_BODY = {
  ...SEED_FIRST_BODY,
  products: [
    {
      sku: '45790-32',
      name: 'Monopoly: 3rd Edition',
      productUrl: 'https://www.example.com/product/path',
      imageUrl: 'https://www.example.com/product/path.jpg',
      productId: '507f1f77bcf86cd799439011',
      categories: ['Games'],
      price: 19,
      currency: 'USD',
    },
    {
      sku: '46493-32',
      name: 'Uno Card Game',
      productId: '505bd76785ebb509fc183733',
      categories: ['Games'],
      price: 3,
      currency: 'USD',
    },
  ],
  productSkus: ['45790-32', '46493-32'],
}

/** The outcome the seed order ends with. */
export const SEED_SENT = { status: 'sent', referenceId: SEED_FIRST_BODY.referenceId, reason: 'accepted by Trustpilot' }

export const API_KEY = 'test-integration-key'
export const DEFAULT_ENDPOINT = 'https://invitejs.trustpilot.com'

/** What an earlier page left in the outbox: an invitation due now, its first request already tried. */
export const pendingEntry = (id: string) => ({
  invitation: {
    body: { recipientEmail: `${id}@x.io`, referenceId: id, source: 'x' },
    products: [],
    productSkus: [],
  },
  step: 'products',
  attempts: 1,
  createdAt: Date.now(),
  nextAt: 0,
})
