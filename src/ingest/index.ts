export { interpretMessage, type DeviceMessage } from './telemetry.js';
export { checkValue, applyRule } from './values.js';
export { matchTopic, valueAt } from './mapping.js';
export { resolveTimestamp } from './time.js';
export type { IngestOutcome, IngestLimits, Reading, ReadingValue, RefusedMetric, RejectionCode, TimeSource } from './types.js';
