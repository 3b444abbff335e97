export {
  summarise,
  summaryId,
  householdPseudonym,
  normaliseVendor,
  SUMMARY_FORMAT,
  type Sample,
  type Summary,
  type SummaryDocument,
  type SummaryItem,
  type SummariseInput,
  type OmittedItem,
} from './summarise.js';
export { summaryJsonSchema } from './document-schema.js';
