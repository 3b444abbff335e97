import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

// pino-pretty (and its colour and date libraries) only when a terminal shows the log: a
// service under systemd or Docker never pays for it (part of ~8 MiB of RSS).
const requireCjs = createRequire(import.meta.url);

export type { Logger };

/**
 * Keys that may hold secrets or raw household data. They are censored wherever they appear
 * (one level deep) so a careless log call cannot leak them. [PRIV-3] payload bytes are never logged.
 */
const REDACT = ['password', 'secret', 'payload', 'body', 'token', 'value', 'values']
  .flatMap((k) => [k, `*.${k}`]);

export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go; defaults to stdout (pretty when stdout is a terminal). */
  destination?: DestinationStream;
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = {
    level: options.level ?? 'info',
    base: undefined,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (options.destination) return pino(opts, options.destination);
  const usePretty = options.pretty ?? process.stdout.isTTY === true;
  if (usePretty) {
    const pretty = requireCjs('pino-pretty') as typeof PinoPretty;
    return pino(opts, pretty({ colorize: true, sync: true, ignore: 'pid,hostname' }));
  }
  return pino(opts, pino.destination({ sync: true }));
}

/** A logger that drops everything; for CLI code paths that should stay quiet. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
