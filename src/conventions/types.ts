/** The bridge conventions Sluice understands; each is one `Convention`. */
export type ConventionName = 'zigbee2mqtt' | 'tasmota' | 'shelly' | 'homeassistant' | 'homie';

export type MetricType = 'number' | 'boolean' | 'enum';

/** One metric a discovered device reports, already in Sluice's neutral vocabulary and units. */
export interface DiscoveredMetric {
  metric: string;
  /** A part of the device ('' for the whole device), e.g. a relay channel. */
  component: string;
  type: MetricType;
  unit?: string;
  min?: number;
  max?: number;
  resolution?: number;
  values?: string[];
  /** A cumulative counter whose increase matters (energy); it may reset. */
  counter?: boolean;
}

/** Something a device maker should hear about: a form the gateway could not use, flagged not guessed. */
export interface DeviceFlag {
  code: 'unsupported_template' | 'unsupported_unit' | 'unsupported_component' | 'outside_namespace';
  detail: string;
}

/** A device learned from the convention's own announcements. */
export interface DiscoveredDevice {
  /** Stable identity across renames: ieee address, HA device identifier, Shelly id, MAC, Homie id. */
  key: string;
  name: string;
  /** Inferred from the convention's own classes (exposes, device_class, component types). */
  kind: string;
  model?: string;
  manufacturer?: string;
  metrics: DiscoveredMetric[];
  flags: DeviceFlag[];
}

export interface ConventionReading {
  metric: string;
  component: string;
  value: number | boolean | string;
  unit?: string;
  /** ms since the epoch, only when the device's own time is usable. */
  ts?: number;
  /** Why the device's time was not used (e.g. a local time without an offset); for the maker. */
  tsNote?: string;
}

/** A reason a bridge message is refused; the caller quarantines it under this code. */
export type ConventionRejection = 'not_json' | 'not_object' | 'malformed' | 'outside_namespace';

export type ConventionOutcome =
  | { kind: 'devices'; devices: DiscoveredDevice[]; removed: string[] }
  | { kind: 'readings'; deviceKey: string; readings: ConventionReading[]; notes: string[] }
  | { kind: 'availability'; deviceKey: string; online: boolean }
  | { kind: 'ignored'; why: string }
  | { kind: 'rejected'; reason: ConventionRejection; message: string };

/** What the caller knows about the bridge that published the message. */
export interface BridgeContext {
  /** The bridge's base topic, without a trailing '/' ('' when the convention has none). */
  base: string;
  /** MQTT topic filters the publishing credential may publish under (its namespace). */
  namespace: readonly string[];
}

/** The convention's learned knowledge after a message, and what the message meant. */
export interface Interpretation<S> {
  state: S;
  outcomes: ConventionOutcome[];
}

/**
 * One bridge convention. `interpret` is pure: the caller keeps the state (device lists,
 * discovery configs, last full statuses) and passes it back with the next message.
 */
export interface Convention<S> {
  name: ConventionName;
  defaultBaseTopic: string;
  initialState(): S;
  subscriptions(base: string): string[];
  interpret(state: S, ctx: BridgeContext, topic: string, payload: Buffer, now: number): Interpretation<S>;
}
