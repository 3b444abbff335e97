export { interpretNative, checkValue, type NativeMessage } from './telemetry.js';
export { resolveTimestamp } from './time.js';
export type { IngestOutcome, IngestLimits, Reading, ReadingValue, RefusedMetric, RejectionCode, TimeSource } from './types.js';
