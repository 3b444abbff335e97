export { consentMigrations } from './migrations.js';
export { concernOf, isAdult, MEMBER_ROLES, type Member, type MemberRole, type Assignment, type Concern, type SharedSpaces } from './concern.js';
export { Members, MEMBER_NAME, type MembersDeps } from './members.js';
export { ConsentRecords, recordHash, sharedSpacesOf, type StoredRecord } from './recorder.js';
export { buildRecord, toKantara, categoryOf, nextState, SLUICE_CATEGORIES, RECORD_CONTEXT, type ConsentRecord, type KantaraReceipt, type HistoryEntry, type DataSubject, type ConsentStateIri } from './records.js';
export { Pauses, PausingSink, coverage, uncoveredMs, pauseCovers, isSafetyMetric, SAFETY_METRICS, type Pause, type PauseMode, type PauseScope, type Coverage } from './pause.js';
export { consentRecordSchema, kantaraReceiptSchema, consentJsonSchemas } from './schema.js';
