import { defineOperation, noParams } from './operation.js';

/** `status`: whether a gateway runs on the data directory and how it is doing. */
export interface StatusResult {
  running: boolean;
  pid: number | null;
  mqtt_port: number | null;
  connected_clients: number;
  store: string;
  store_fault: string | null;
  started_at: string | null;
  devices: number;
  data_dir: string;
  /** The dashboard's URL while the gateway serves it. */
  web_url: string | null;
  broker?: Record<string, unknown>;
  /** `embedded` (Sluice's own broker) or `external` (a client of the household's broker). */
  broker_mode: 'embedded' | 'external';
  /** External mode only; the url carries no password. */
  external?: { url: string; client_id: string; connected: boolean; last_error: string | null; reconnects: number };
}

/** The gateway itself. */
export const systemOperations = {
  status: defineOperation({
    params: noParams,
    run: ({ context: ctx, runtime }): StatusResult => {
      const rt = runtime?.();
      return {
        running: rt !== undefined,
        pid: rt ? process.pid : null,
        mqtt_port: rt?.mqttPort ?? null,
        connected_clients: rt?.connectedClients ?? 0,
        store: rt?.storeFaulted ? `faulted (${rt.storeFault?.code ?? 'storage fault'}): acknowledgements held` : 'ok',
        store_fault: rt?.storeFault
          ? `${rt.storeFault.message} since ${new Date(rt.storeFault.since).toISOString()}; ${rt.storeFault.freeBytes === null ? 'free disk unknown' : `${rt.storeFault.freeBytes} bytes free on disk`}`
          : null,
        started_at: rt ? new Date(rt.startedAt).toISOString() : null,
        devices: ctx.registry.list().length,
        data_dir: ctx.config.data_dir,
        web_url: rt?.webUrl ?? null,
        ...(rt?.broker ? { broker: rt.broker() } : {}),
        broker_mode: ctx.config.broker.mode,
        ...(rt?.external ? { external: rt.external() } : {}),
      };
    },
  }),
};
