import { defineOperation, noParams } from './operation.js';

/** Broker limit counters; only a running gateway has them. */
export const brokerOperations = {
  'broker.stats': defineOperation({
    params: noParams,
    run: ({ runtime }): Record<string, unknown> => runtime?.().broker?.() ?? { running: false },
  }),
};
