/** The roster the terms come from; named in every document so a vendor knows which list an id is on. */
export const ROSTER = 'IEEE 7012-2025';

/** The default term: service delivery only, and the household's data stays portable. */
export const DEFAULT_TERM = 'SD-BASE-DP';

/**
 * The IEEE 7012 roster's service-delivery and data-contribution terms. `rank` orders them by
 * what the vendor may do (0 allows least); a counter-offer with a higher rank asks more of the household.
 */
export const TERMS = {
  'SD-BASE-DP': { rank: 0, title: 'Service delivery only; no analytics, tracking or profiling; the data stays portable' },
  'SD-BASE': { rank: 1, title: 'Service delivery only; no analytics, tracking or profiling' },
  'SD-BASE-A': { rank: 2, title: 'Service delivery and analytics by the vendor itself' },
  'SD-BASE-AT': { rank: 3, title: 'Service delivery, analytics and tracking by the vendor itself' },
  'SD-BASE-ATP': { rank: 4, title: 'Service delivery, analytics, tracking and profiling by the vendor itself' },
  'SD-BASE-ATP-S3P': { rank: 5, title: 'As SD-BASE-ATP, and anonymised data shared with third parties' },
  'PDC-INTENT': { rank: 6, title: 'Personal data contributed to answer an intent' },
  'PDC-AI': { rank: 7, title: 'Personal data contributed for AI training or operation' },
  'PDC-GOOD': { rank: 8, title: 'Personal data contributed for the common good' },
} as const;

export type TermId = keyof typeof TERMS;

export function isTermId(id: string): id is TermId {
  return Object.hasOwn(TERMS, id);
}

/** The term as it appears in a document. */
export function termRef(id: TermId): { id: TermId; roster: typeof ROSTER } {
  return { id, roster: ROSTER };
}
