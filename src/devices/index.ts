export {
  loadProfiles,
  profileSchema,
  metricSchema,
  mappingSchema,
  readingRuleSchema,
  type DeviceProfile,
  type MetricSpec,
  type MappingRule,
  type ReadingRule,
  type LoadedProfiles,
  type LoadProfilesOptions,
} from './profile.js';
export { DeviceRegistry, deviceMigrations, DEVICE_ID, ROLES, bridgeNamespace, discoveredId, discoveredProfile, isConvention, type DeviceRecord, type NewDevice, type Role } from './registry.js';
export { generatePassword, hashPassword, verifyPassword } from './credentials.js';
