export { loadProfiles, profileSchema, metricSchema, type DeviceProfile, type MetricSpec, type LoadedProfiles } from './profile.js';
export { DeviceRegistry, deviceMigrations, DEVICE_ID, ROLES, type DeviceRecord, type NewDevice, type Role } from './registry.js';
export { generatePassword, hashPassword, verifyPassword } from './credentials.js';
