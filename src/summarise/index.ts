export { summarise, mechanismSamples, policyWindowSizes, SUMMARY_FORMAT, DEFAULT_MIN_COVERAGE, type PausedInterval, type Summary, type SummaryDocument, type SummaryItem, type SummaryOutcome, type SummariseInput, type OmittedItem, type ItemStats, type ItemSource } from './summarise.js';
export { vendorKey, householdPseudonym, vendorVersion, summaryId, normaliseVendor } from './keys.js';
export { percentileType7, histogram, timeInState, timeWeightedMean, counterIncrease, type Sample } from './statistics.js';
export { summaryJsonSchema } from './document-schema.js';
