import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Call } from '../app/index.js';
import { SluiceError, type EventBus } from '../core/index.js';
import type { Session } from './auth.js';
import type { SafeHtml, layout } from './html.js';

/** What the page modules get: the one application layer, and the session of the request. */
export interface WebRoutes {
  app: FastifyInstance;
  call: Call;
  events: EventBus;
  /** The household's timezone, for times shown to people. */
  timezone: string;
  session(req: FastifyRequest): Session;
  /** Sends a full page. */
  page(reply: FastifyReply, req: FastifyRequest, title: string, section: Parameters<typeof layout>[0]['section'], body: SafeHtml, status?: number): FastifyReply;
}

/** Parses route input with zod; a mismatch is a SLUICE_ERR_USAGE naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  throw new SluiceError('SLUICE_ERR_USAGE', r.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
}

