export { loadConfig, envKeys, type LoadConfigOptions } from './load.js';
export { configSchema, duration, type SluiceConfig } from './schema.js';
export { loadYamlFile, parseYaml, formatYamlIssues, type YamlIssue, type PositionedYaml } from './yaml-loader.js';
export { didYouMean } from './did-you-mean.js';
export { logStartupNotices, type StartupFacts } from './startup-notices.js';
export { isLoopbackHost, vendorEndpoint } from './endpoint.js';
