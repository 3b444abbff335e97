export { WebServer, statusOf, lanWarning, announceListening, readinessProblems, type WebServerDeps, type ReadinessFacts } from './server.js';
export { buildMetrics, METRIC_LABELS } from './metrics.js';
export { LoginLinks, Sessions, AttemptLimiter } from './auth.js';
