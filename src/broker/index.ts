export { MqttBroker, type BrokerOptions } from './broker.js';
export { TelemetryIntake, type IncomingPublish } from './intake.js';
export { canPublish, canSubscribe, type AclContext } from './acl.js';
export { listen } from './listen.js';
export { PoisonGuard, POISON_FILE, type PoisonMessage } from './poison-guard.js';
export { brokerMigrations } from './migrations.js';
export { SqlitePersistence, persistenceMigrations, type PersistenceLimits } from './sqlite-persistence.js';
