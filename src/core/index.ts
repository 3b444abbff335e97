export { errorCatalogue, SluiceError, isSluiceError, renderErrorDoc, type ErrorCode } from './errors.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { tryParseDuration, parseDuration, parseSince } from './duration.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './logger.js';
export { Lifecycle, type Service } from './service.js';
export { EventBus, type SluiceEvents } from './events.js';
export { openDatabase, isStorageFault, SluiceDatabase, type Migration, type RawDatabase } from './db.js';
export { ensureDataDir, lockHolder, DataDirLock, LOCK_FILE, SOCKET_FILE, DB_FILE, type LockHolder } from './data-dir.js';
export { AdminSocketServer, callAdmin, type AdminHandler, type AdminOperations } from './admin-socket.js';
