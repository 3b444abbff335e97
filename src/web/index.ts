export { WebServer, statusOf, type WebServerDeps } from './server.js';
export { LoginLinks, Sessions, AttemptLimiter } from './auth.js';
