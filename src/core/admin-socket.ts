import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { SluiceError, isSluiceError, type ErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import type { Service } from './service.js';

/** An admin operation: named, takes JSON params, returns a JSON result or throws a SluiceError. */
export type AdminHandler = (params: Record<string, unknown>) => Promise<unknown> | unknown;
export type AdminOperations = Readonly<Record<string, AdminHandler>>;

interface Request {
  id: number;
  op: string;
  params?: Record<string, unknown>;
}

type Response =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { code: ErrorCode; message: string; details?: Record<string, unknown> } };

/**
 * The gateway's local admin socket: newline-delimited JSON requests over a unix socket in the
 * data directory, mode 0600, so only the household's own user can steer the gateway.
 */
export class AdminSocketServer implements Service {
  readonly name = 'admin-socket';
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly deps: { path: string; operations: AdminOperations; logger: Logger }) {}

  async start(): Promise<void> {
    const { path } = this.deps;
    // We hold the data-dir lock, so a socket file left here belongs to a dead gateway.
    if (existsSync(path)) unlinkSync(path);
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new SluiceError('SLUICE_ERR_ADMIN_SOCKET', `cannot listen on admin socket ${path}: ${err.message}`, { path })),
      );
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() !== '') void this.answer(socket, line);
      }
    });
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    let request: Request;
    try {
      request = JSON.parse(line) as Request;
    } catch {
      socket.write(JSON.stringify({ id: -1, ok: false, error: { code: 'SLUICE_ERR_USAGE', message: 'admin request is not JSON' } }) + '\n');
      return;
    }
    let response: Response;
    const handler = Object.hasOwn(this.deps.operations, request.op) ? this.deps.operations[request.op] : undefined;
    try {
      if (!handler) throw new SluiceError('SLUICE_ERR_USAGE', `unknown admin operation "${request.op}"`);
      response = { id: request.id, ok: true, result: await handler(request.params ?? {}) };
    } catch (err) {
      if (!isSluiceError(err)) this.deps.logger.error({ err, op: request.op }, 'admin operation failed');
      const e = isSluiceError(err) ? err : new SluiceError('SLUICE_ERR_INTERNAL', (err as Error).message);
      response = { id: request.id, ok: false, error: e.toJSON() };
    }
    if (!socket.destroyed) socket.write(JSON.stringify(response) + '\n');
  }
}

/** Sends one operation to a running gateway and returns its result (or throws its SluiceError). */
export async function callAdmin(path: string, op: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SluiceError('SLUICE_ERR_ADMIN_SOCKET', `the gateway did not answer "${op}" within ${timeoutMs} ms`, { path }));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify({ id: 1, op, params }) + '\n'));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      const response = JSON.parse(buffered.slice(0, nl)) as Response;
      if (response.ok) resolve(response.result);
      else reject(new SluiceError(response.error.code, response.error.message, response.error.details));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(new SluiceError('SLUICE_ERR_ADMIN_SOCKET', `cannot reach the gateway's admin socket ${path}: ${err.message}`, { path }));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!buffered.includes('\n')) reject(new SluiceError('SLUICE_ERR_ADMIN_SOCKET', `the gateway closed the admin socket before answering "${op}"`, { path }));
    });
  });
}
