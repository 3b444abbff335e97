export { MqttBroker, type BrokerOptions } from './broker.js';
export { TelemetryIntake, type IncomingPublish } from './intake.js';
export { canPublish, canSubscribe, type AclContext } from './acl.js';
export { listen } from './listen.js';
export { brokerSettings, defaultBrokerSettings, type BrokerSettings } from './settings.js';
export type { BrokerLimits } from './hardening.js';
export { createBoundedEmitter, type BoundedEmitterOptions } from './bounded-emitter.js';
export { BoundedPersistence, type BoundedPersistenceOptions } from './bounded-persistence.js';
export { containFailures, FAULT_EXIT_CODE } from './containment.js';
