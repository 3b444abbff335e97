export { policySchema, policyJsonSchema, isLoopbackHost, WINDOWS, STATS, type PolicyV1, type ShareRule, type Stat, type WindowSize } from './schema.js';
export {
  listPolicyNames,
  readPolicyFile,
  resolveEffective,
  formatFindings,
  POLICY_NAME,
  type EffectivePolicy,
  type EffectiveRule,
  type Finding,
  type PolicyFile,
} from './effective.js';
export { PolicyBook, policyMigrations, notInForceError, waitingFor, type PolicyConcern, type ConsentEvent, type ConsentHooks, type ApprovalOutcome, type Standing, type NotInForce, type ApprovedPolicy, type PolicyState, type PolicyStatus, type PolicyBookDeps } from './book.js';
export { explainPolicy, describeChanges, describeRule, nextRuns, stateText } from './explain.js';
export { lastClosedWindow, isAlignedWindow, isoInZone, parseWindowText, expiryInstant } from './windows.js';
export type { TimeWindow } from '../core/index.js';
