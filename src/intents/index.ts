export { intentMigrations, IntentBook, type IntentRow, type IntentDetail, type OfferRow, type IntentState, type IntentBookDeps, type PendingDelivery, type PendingAcceptance, type AcceptanceCover } from './book.js';
export {
  INTENT_FORMAT,
  OFFER_FORMAT,
  ACCEPTANCE_FORMAT,
  INTENT_TERMS,
  freshIdentity,
  signDocument,
  verifyDocument,
  intentDocument,
  intentContent,
  offersDeadline,
  checkOffer,
  acceptanceDocument,
  offerSchema,
  type IntentDocument,
  type IntentRequest,
  type IntentWhere,
  type IntentIdentity,
  type OfferDocument,
  type OfferCheck,
} from './documents.js';
export { evaluateRules, baselineKey, type DeviceLatest, type RuleMemory, type Firing, type Evaluation } from './evaluate.js';
export { intentRuleSchema, loadIntentRules, IntentRuleSet, isSensitiveCategory, SENSITIVE_CATEGORIES, type IntentRule, type IntentRuleFile, type LoadedRules } from './rules.js';
export { IntentService, intentOptionsFrom, needByDate, type IntentServiceDeps, type IntentServiceOptions } from './service.js';
export { openDataRelease, OPEN_DATA_FORMAT, MIN_OPEN_DATA_WINDOW_MS, type OpenDataInput, type OpenDataDocument, type OpenDataOutcome } from './open-data.js';
export { OpenDataReleases, openDataMigrations, OPEN_DATA_BUDGET_PREFIX, type OpenDataReleasesDeps, type OpenDataRun } from './open-data-release.js';
