export { Admission } from './admission.js';
export { AuthGate } from './auth-gate.js';
export { PublishLimits, type PublishCheck } from './publish-limits.js';
export { SubscriptionLimits } from './subscription-limits.js';
export { SessionExpiry } from './session-expiry.js';
export { RefusedInput } from './refused-input.js';
export { countAedesLimits } from './aedes-errors.js';
export { brokerStatus } from './status.js';
