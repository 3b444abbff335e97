import type { DeviceRecord, MetricSpec } from '../devices/index.js';
import type { Reading, RefusedMetric } from './types.js';

/** A message kept in the quarantine instead of (or beside) its readings. */
export interface QuarantineEntry {
  deviceId: string | null;
  clientId: string | null;
  topic: string;
  reason: string;
  message: string;
  refused?: RefusedMetric[];
  payload: Buffer;
  receivedAt: number;
}

/** A QoS 1 message stamped with gateway time, remembered so its redelivery gets the same time. */
export interface Delivery {
  clientId: string;
  packetId: number;
  payloadHash: Buffer;
  /** ms */
  ts: number;
}

/** What one message leaves to be committed: its readings, a quarantine entry, its delivery row. */
export interface WriteRequest {
  deviceId: string;
  readings: Reading[];
  specs: Readonly<Record<string, MetricSpec>>;
  quarantine?: QuarantineEntry;
  /** Committed in the same transaction as the readings, so a redelivery after a restart is recognised. */
  delivery?: Delivery;
}

/** Where ingest hands its results (the store's ReadingWriter); the promise settles at commit. */
export interface ReadingSink {
  submit(request: WriteRequest): Promise<void>;
  /**
   * [PAUSE-3] Whether a no-store pause holds back a message of this device carrying these
   * readings (none would be kept; `[]` for a message without readings); absent: never.
   */
  holdsBack?(deviceId: string, readings: readonly Reading[]): boolean;
}

/**
 * What became of a message: `refused` when ingest quarantined it whole (the broker then neither
 * retains nor delivers it); `not-stored` when a no-store pause held all of it back (delivered
 * live, never kept as retained state).
 */
export type IntakeVerdict = 'accepted' | 'refused' | 'not-stored';

/** A publish as the broker received it. */
export interface IncomingPublish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  dup: boolean;
  messageId?: number | undefined;
}

/**
 * What a broker (the embedded one, or a client of an external one) calls for each device
 * message; the promise settles when the message is committed, which is when it may acknowledge.
 */
export interface Ingest {
  fromDevice(device: DeviceRecord, clientId: string, packet: IncomingPublish): Promise<IntakeVerdict>;
  fromBridge(bridge: DeviceRecord, clientId: string, packet: IncomingPublish, behind: { record: DeviceRecord; subtopic: string } | undefined): Promise<IntakeVerdict>;
  /** A publish the ACL refused: quarantined as `not_your_topic` so the maker can see why the connection closed. */
  notYourTopic?(who: DeviceRecord, clientId: string, packet: IncomingPublish, allowed: string): void;
}
