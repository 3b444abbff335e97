export { policySchema, policyJsonSchema, POLICY_KINDS, ACCEPTANCE_FIELDS, type PolicyKind, type AcceptanceField, WINDOWS, STATS, PERCENTILES, NUMBER_STATS, type PolicyV1, type ShareRule, type Stat, type Percentile, type WindowSize } from './schema.js';
export {
  listPolicyNames,
  readPolicyFile,
  resolveEffective,
  formatFindings,
  applyDefaults,
  unitOfMetric,
  POLICY_NAME,
  type EffectivePolicy,
  type EffectiveRule,
  type RuleSettings,
  type Finding,
  type PolicyFile,
} from './effective.js';
export { defaultsSchema, defaultsJsonSchema, readDefaultsFile, BUILTIN_DEFAULTS, DEFAULTS_FILE, SHARED_SPACES_KEYS, type HouseholdDefaults, type DefaultsFile } from './defaults.js';
export { PolicyBook, policyMigrations, notInForceError, waitingFor, type PolicyConcern, type ConsentEvent, type ConsentHooks, type ApprovalOutcome, type Standing, type NotInForce, type ApprovedPolicy, type PolicyState, type PolicyStatus, type PolicyBookDeps } from './book.js';
export { explainPolicy, describeChanges, describeRule, describeDefaults, describeOverlaps, ownerDecides, nextRuns, stateText } from './explain.js';
export { lastClosedWindow, isAlignedWindow, isoInZone, parseWindowText, expiryInstant } from './windows.js';
export type { TimeWindow } from '../core/index.js';
export { NOISY_STATS, refusalReason, type NoisyStat } from './noise.js';
