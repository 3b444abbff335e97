/** Why a message, or one metric of it, was refused; each code is documented in docs/device-profiles.md. */
export type RejectionCode =
  | 'too_large'
  | 'not_json'
  | 'not_object'
  | 'no_metrics'
  | 'unknown_metric'
  | 'wrong_type'
  | 'out_of_range'
  | 'not_finite'
  | 'ts_too_far_future'
  | 'ts_too_far_past'
  | 'unknown_topic'
  | 'no_profile'
  | 'unknown_component'
  | 'ingest_crashed'
  // Real homes (bridges, the ACL, device clocks):
  | 'malformed'
  | 'outside_namespace'
  | 'not_your_topic'
  | 'ts_unusable';

export type ReadingValue = number | boolean | string;

/** Whose clock stamped a reading: the device's own `ts`, or the gateway's receive time. */
export type TimeSource = 'device' | 'gateway';

export interface Reading {
  metric: string;
  /** A part of the device, such as a fridge's `freezer`; '' for the device as a whole. */
  component: string;
  value: ReadingValue;
  /** ms since the epoch */
  ts: number;
  timeSource: TimeSource;
}

export interface RefusedMetric {
  metric: string;
  reason: RejectionCode;
  message: string;
}

export type IngestOutcome =
  | { kind: 'readings'; readings: Reading[]; refused: RefusedMetric[]; ts: number; timeSource: TimeSource; timeNote?: string }
  | { kind: 'status'; online: boolean }
  /** A topic the profile says to acknowledge and drop (diagnostics, echoes). */
  | { kind: 'ignored' }
  | { kind: 'rejected'; reason: RejectionCode; message: string; refused?: RefusedMetric[] };

export interface IngestLimits {
  maxPayloadBytes: number;
  /** ms a device timestamp may run ahead of the gateway clock */
  maxFuture: number;
  /** ms a device timestamp may lag behind the gateway clock */
  maxPast: number;
}
