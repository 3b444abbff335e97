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

import type { BridgeContext, Convention, ConventionName, ConventionOutcome } from './types.js';
import { homeassistant, type HaState } from './homeassistant.js';
import { homie, type HomieState } from './homie.js';
import { shelly, type ShellyState } from './shelly.js';
import { tasmota, type TasmotaState } from './tasmota.js';
import { zigbee2mqtt, type Z2mState } from './zigbee2mqtt.js';

export interface ConventionStates {
  zigbee2mqtt: Z2mState;
  tasmota: TasmotaState;
  shelly: ShellyState;
  homeassistant: HaState;
  homie: HomieState;
}

/** Every bridge convention by its profile name (`--role bridge --profile <name>`). */
export const conventions: { readonly [K in ConventionName]: Convention<ConventionStates[K]> } = { zigbee2mqtt, tasmota, shelly, homeassistant, homie };

export const CONVENTION_NAMES = Object.keys(conventions) as readonly ConventionName[];

/**
 * One bridge's learned knowledge, owned by whoever reads that bridge's messages (one per bridge
 * device, released with it): it carries the state from one `interpret` to the next.
 */
export class BridgeInterpreter<K extends ConventionName = ConventionName> {
  private current: ConventionStates[K];
  constructor(
    readonly name: K,
    private readonly convention: Convention<ConventionStates[K]> = conventions[name] as Convention<ConventionStates[K]>,
  ) {
    this.current = convention.initialState();
  }
  get state(): ConventionStates[K] {
    return this.current;
  }
  interpret(ctx: BridgeContext, topic: string, payload: Buffer, now: number): ConventionOutcome[] {
    const r = this.convention.interpret(this.current, ctx, topic, payload, now);
    this.current = r.state;
    return r.outcomes;
  }
}
