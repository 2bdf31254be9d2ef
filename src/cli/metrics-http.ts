/**
 * The metrics over HTTP (docs/operations.md, "Metrics"): `GET /metrics` answers a store's
 * `metrics()` (the Prometheus text exposition format, 0.0.4) for a scraper. Bound to 127.0.0.1
 * unless the caller names another host: the metrics tell the watermark and the disk layout, so
 * exposing them beyond the machine is the operator's explicit choice (a reverse proxy, or
 * `host`).
 *
 * It must never answer anything but GET and HEAD on the metrics path, never keep the process
 * alive on its own (`unref`), and never let a failing source take the server down (500, then
 * the next scrape tries again).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidArgument } from '../errors.ts';
import { METRICS_CONTENT_TYPE } from '../stores/metrics.ts';

/** Where the metrics come from: a store's `metrics`, or anything answering the same text. */
export type MetricsSource = () => Promise<string> | string;

/** Options of `serveMetrics`. */
export interface MetricsServerOptions {
  /** Interface to bind; default 127.0.0.1 (this machine only). */
  readonly host?: string;
  /** Port; default 0 (a free one, see `port` of the result). */
  readonly port?: number;
  /** Path answered; default `/metrics`. */
  readonly path?: string;
}

/** A running metrics server. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * The request handler alone, for an embedder's own `http.Server`: answers `path` and 404
 * elsewhere.
 */
export function metricsHandler(source: MetricsSource, path = '/metrics'): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== path) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: metrics are at ${path}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    Promise.resolve()
      .then(source)
      .then(
        (text) => {
          const body = Buffer.from(text, 'utf8');
          res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': body.length, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
  };
}

/**
 * Serves `source` on `http://host:port/path` (default `http://127.0.0.1:<free port>/metrics`).
 * @throws the listen error (EADDRINUSE, EACCES, ...).
 */
export async function serveMetrics(source: MetricsSource, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/metrics';
  if (!path.startsWith('/')) throw new RangeError('the metrics path must start with /');
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError('the metrics port must be an integer in [0, 65535]');
  const server: Server = createServer(metricsHandler(source, path));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}${path}`,
    host,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The devnet's metrics (src/cli/devnet.ts, devnet-node.ts): the parent sets this variable to the
 * port each validator serves on (0: a free one), and each validator announces its URL with a
 * `MetricsAnnouncement` over IPC. The operator sets `CSTORE_DEVNET_METRICS_PORT` on the devnet
 * command: a base port (validator i serves on base + i), or `off`.
 */
export const NODE_METRICS_PORT_ENV = 'CSTORE_METRICS_PORT';
/** The operator's variable of `cstore devnet` (see `NODE_METRICS_PORT_ENV`). */
export const DEVNET_METRICS_PORT_ENV = 'CSTORE_DEVNET_METRICS_PORT';

/** What a devnet validator sends its parent once its metrics are served. */
export interface MetricsAnnouncement {
  readonly t: 'metrics';
  readonly url: string;
}

/** True for a `MetricsAnnouncement`. */
export function isMetricsAnnouncement(m: unknown): m is MetricsAnnouncement {
  return typeof m === 'object' && m !== null && (m as { t?: unknown }).t === 'metrics' && typeof (m as { url?: unknown }).url === 'string';
}

/**
 * The port of validator `index` from the operator's `CSTORE_DEVNET_METRICS_PORT` value:
 * undefined for `off`, 0 (a free port) when unset.
 * @throws ConsensusStoreError INVALID_ARGUMENT on a value that is neither a port nor `off`.
 */
export function devnetMetricsPort(value: string | undefined, index: number): number | undefined {
  if (value === undefined || value === '') return 0;
  if (value === 'off') return undefined;
  const base = Number(value);
  if (!Number.isInteger(base) || base < 1 || base + index > 65535) throw invalidArgument(DEVNET_METRICS_PORT_ENV, `must be a port (validator i serves on it + i) or "off", not ${JSON.stringify(value)}`);
  return base + index;
}
