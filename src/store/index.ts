export { storeMigrations } from './schema.js';
export { ReadingWriter, payloadDigest, type WriteRequest, type QuarantineEntry, type Delivery, type ReadingWriterOptions } from './reading-writer.js';
export { StoreQueries, type StoredReading, type ReadingQuery, type QuarantinedMessage } from './queries.js';
export { QUARANTINE_PAYLOAD_BYTES } from './quarantine.js';
export { encodeValue, decodeValue, type SeriesType } from './codec.js';
