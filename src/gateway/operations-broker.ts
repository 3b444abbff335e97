import type { AdminHandler } from '../core/index.js';
import type { GatewayContext } from './context.js';

/** Broker limit counters; only a running gateway has them. */
export function brokerOperations(_ctx: GatewayContext, stats: () => Record<string, unknown> | undefined): Record<string, AdminHandler> {
  return {
    'broker.stats': () => stats() ?? { running: false },
  };
}
