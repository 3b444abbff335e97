export { Outbox, shareMigrations, type Claim, type ClaimOutcome, type StoredSummary } from './outbox.js';
export { Disclosures, type DisclosuresDeps, type Preview, type RunResult } from './disclosures.js';
export { Forwarder, forwarderOptionsFrom, backoffDelay, parseRetryAfter, type ForwarderDeps, type ForwarderOptions } from './forwarder.js';
export { householdSecret, vendorKey, HOUSEHOLD_SECRET_FILE, type VendorKey } from './secrets.js';
export { signatureHeader, verifySignature, keyFingerprint } from './sign.js';
