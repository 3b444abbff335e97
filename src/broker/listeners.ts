import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { WebSocketServer } from 'ws';
import { SluiceError, type Logger } from '../core/index.js';
import { listen } from './listen.js';

export interface ListenerOptions {
  /** Backstop on every server: sockets beyond it are refused at accept, before any TLS handshake. */
  maxConnections: number;
  /** Longest a TLS handshake or a WebSocket upgrade request may take (ms); then the socket is closed. */
  handshakeTimeout: number;
  tcp: { enabled: boolean; host: string; port: number };
  tls: { enabled: boolean; host: string; port: number; certFile: string; keyFile: string };
  websocket: {
    enabled: boolean;
    host: string;
    port: number;
    path: string;
    tls: boolean;
    /** ws buffers a whole frame before the packet guard sees it, so frames are capped too. */
    maxFrameBytes: number;
  };
}

/** A new connection on any listener: the byte stream, who it is from, and what it still has to send. */
export type ConnectionHandler = (transport: Duplex, remoteAddress: string, outboundBytes?: () => number) => void;

/**
 * The broker's listeners: plain TCP, TLS and WebSocket (ws:// or wss://), each optional.
 * Certificates are read at start and again by `reloadCertificates()` (on SIGHUP), so renewed
 * certificates apply to new connections without a restart.
 */
export class BrokerListeners {
  private readonly servers: Array<Server | HttpServer> = [];
  private readonly secure: Array<{ setSecureContext(options: SecureContextOptions): void }> = [];
  private readonly sockets = new Set<Socket>();
  private wss: WebSocketServer | undefined;
  /** Bound ports by listener name (mqtt, mqtts, ws, wss). */
  readonly ports: Record<string, number> = {};

  constructor(
    private readonly deps: { options: ListenerOptions; onConnection: ConnectionHandler; logger: Logger },
  ) {}

  async start(): Promise<void> {
    const { options, onConnection, logger } = this.deps;
    const track = (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    };
    if (options.tcp.enabled) {
      const server = createServer({ noDelay: true }, (socket) => {
        track(socket);
        onConnection(socket, socket.remoteAddress ?? 'unknown');
      });
      await this.bind(server, 'mqtt', options.tcp.host, options.tcp.port, '--mqtt-port');
    }
    if (options.tls.enabled) {
      const server: TlsServer = createTlsServer({ ...this.certificates(), noDelay: true, handshakeTimeout: options.handshakeTimeout });
      server.on('secureConnection', (socket) => {
        track(socket);
        onConnection(socket, socket.remoteAddress ?? 'unknown');
      });
      // A failed handshake is the client's problem; it must not reach the process.
      server.on('tlsClientError', (err) => logger.debug({ err: err.message }, 'TLS handshake failed'));
      this.secure.push(server);
      await this.bind(server, 'mqtts', options.tls.host, options.tls.port, 'broker.tls.port');
    }
    if (options.websocket.enabled) {
      const http = options.websocket.tls ? createHttpsServer({ ...this.certificates(), handshakeTimeout: options.handshakeTimeout }) : createHttpServer();
      http.requestTimeout = options.handshakeTimeout;
      http.headersTimeout = options.handshakeTimeout;
      if (options.websocket.tls) this.secure.push(http as unknown as { setSecureContext(o: SecureContextOptions): void });
      http.on('connection', track);
      // ws only when WebSocket is on (it is off by default).
      const { WebSocketServer, createWebSocketStream } = await import('ws');
      const wss = new WebSocketServer({ server: http, path: options.websocket.path, maxPayload: options.websocket.maxFrameBytes });
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        onConnection(stream, req.socket.remoteAddress ?? 'unknown', () => ws.bufferedAmount + stream.writableLength);
      });
      wss.on('error', (err) => logger.warn({ err: err.message }, 'websocket server error'));
      this.wss = wss;
      await this.bind(http, options.websocket.tls ? 'wss' : 'ws', options.websocket.host, options.websocket.port, 'broker.websocket.port');
    }
  }

  /** Re-reads the certificate and key files for new TLS connections; keeps the old ones on error. */
  reloadCertificates(): void {
    if (this.secure.length === 0) return;
    try {
      const context = this.certificates();
      for (const server of this.secure) server.setSecureContext(context);
      this.deps.logger.info({ certFile: this.deps.options.tls.certFile }, 'TLS certificate reloaded');
    } catch (err) {
      this.deps.logger.error({ err }, 'TLS certificate could not be reloaded; the previous one stays in use');
    }
  }

  async stop(): Promise<void> {
    this.wss?.close();
    const closing = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const s of this.sockets) s.destroy();
    await Promise.all(closing);
  }

  private certificates(): SecureContextOptions {
    const { certFile, keyFile } = this.deps.options.tls;
    if (!certFile || !keyFile) {
      throw new SluiceError('SLUICE_ERR_TLS', 'TLS needs broker.tls.cert_file and broker.tls.key_file (PEM files)');
    }
    try {
      return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    } catch (err) {
      throw new SluiceError('SLUICE_ERR_TLS', `cannot read the TLS certificate or key: ${(err as Error).message}`, { certFile, keyFile });
    }
  }

  private async bind(server: Server | HttpServer, name: string, host: string, port: number, flag: string): Promise<void> {
    server.maxConnections = this.deps.options.maxConnections;
    const address = await listen(server as Server, host, port, name.toUpperCase(), flag);
    this.servers.push(server);
    this.ports[name] = address.port;
    this.deps.logger.info({ host: address.address, port: address.port, listener: name }, `${name} listening`);
  }
}
