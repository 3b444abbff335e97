export { zigbee2mqtt, z2mDevice, type Z2mDevice, type Z2mState } from './zigbee2mqtt.js';
export { normaliseUnit } from './units.js';
export type {
  BridgeContext,
  Convention,
  ConventionName,
  ConventionOutcome,
  ConventionReading,
  ConventionRejection,
  DeviceFlag,
  DiscoveredDevice,
  DiscoveredMetric,
  Interpretation,
  MetricType,
} from './types.js';
