import type { VenueConfig } from './base.js';

/**
 * Any other ccxt pro exchange, best effort: ccxt's own URLs and defaults. Pacing is conservative because
 * we do not know the venue's inbound message limit.
 */
export function genericVenue(id: string): VenueConfig {
  return { id, settings: {}, subscribeGapMs: 500 };
}
