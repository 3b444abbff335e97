export { Outbox, shareMigrations, type Claim, type ClaimOutcome, type StoredSummary } from './outbox.js';
export { Disclosures, windowSource, type DisclosuresDeps, type Preview, type RunResult, type WindowSourceKind } from './disclosures.js';
export { Forwarder, forwarderOptionsFrom, backoffDelay, parseRetryAfter, signedPost, retryStep, type ForwarderDeps, type ForwarderOptions, type Answer as PostAnswer, type RetryStep } from './forwarder.js';
export { vendorKey, signingKey, signingKeyStatus, type VendorKey } from './secrets.js';
export { gatewaySecret, GATEWAY_SECRET_FILE } from './vendor-keys.js';
export { previousHeader, chainedSignature, agreementSignature, verifyPrevious, PREVIOUS_HEADER, AGREEMENT_HEADER, type PreviousSummary } from './chain.js';
export { signatureHeader, verifySignature, keyFingerprint } from './sign.js';
export { Erasures, ERASURE_FORMAT, type ErasureDocument, type StoredErasure, type ErasureClaim } from './erasure.js';
