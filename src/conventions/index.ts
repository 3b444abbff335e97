export { zigbee2mqtt, z2mDevice, type Z2mDevice, type Z2mState } from './zigbee2mqtt.js';
export { homie, homieDescribe, type HomieDevice, type HomieProperty, type HomieState } from './homie.js';
export { shelly, shellyStatus, mergeStatus, type ShellyDevice, type ShellyState } from './shelly.js';
export { tasmota, tasmotaSensor, tasmotaTime, type TasmotaDevice, type TasmotaState } from './tasmota.js';
export { homeassistant, homeassistantStateTopics, type HaEntity, type HaState, type HaTap } from './homeassistant.js';
export { compileTemplate, renderTemplate, type Rendered, type Template } from './ha-template.js';
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
