/**
 * The metrics over HTTP (src/cli/metrics-http.ts): a real scrape over 127.0.0.1 of a store in a
 * temp directory (the exposition parsed, a counter moving between two scrapes), the answers
 * other than GET /metrics, a failing source; and a real devnet (`cstore devnet`, one validator
 * process) printing where its validator serves metrics, scraped while it runs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { devnetMetricsPort, serveMetrics } from '../../src/cli/metrics-http.ts';
import { openStore } from '../../src/store.ts';
import { AUDIT_CHAIN, nodeKey } from '../support/audit-test-log.ts';
import { parseExposition, valueOf } from '../support/prom-text.ts';

const root = mkdtempSync(join(tmpdir(), 'cstore-metrics-http-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('serveMetrics', () => {
  it('a real scrape of a store over 127.0.0.1: 200, the 0.0.4 content type, a parsable exposition whose counters move', async () => {
    const store = await openStore({
      dir: join(root, 'store'),
      chainId: AUDIT_CHAIN,
      signer: { privateKey: new Uint8Array(32).fill(9), validatorId: 'me', state: 'new-key' },
      audit: { nodeKey: nodeKey(1) },
    });
    const server = await serveMetrics(() => store.metrics());
    try {
      expect(server.host).toBe('127.0.0.1');
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
      const first = await fetch(server.url);
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const before = parseExposition(await first.text());
      expect(valueOf(before, 'cstore_signguard_permitted_signings_total', { signature: 'new' })).toBe(0);
      for (const name of ['cstore_wal_fsync_duration_seconds', 'cstore_wal_write_bytes_total', 'cstore_wal_batch_records', 'cstore_disk_bytes', 'cstore_replay_image_loaded', 'process_cpu_seconds_total']) {
        expect(before.has(name), name).toBe(true);
      }

      await store.signGuard.signVote({ validatorId: 'me', height: 1, round: 0, voteType: 'prevote', blockHash: new Uint8Array(32).fill(1), timestamp: 1 });
      const after = parseExposition(await (await fetch(`${server.url}?x=1`)).text());
      expect(valueOf(after, 'cstore_signguard_permitted_signings_total', { signature: 'new' })).toBe(1);
      expect(valueOf(after, 'cstore_signguard_last_signed_height')).toBe(1);
      expect(valueOf(after, 'cstore_wal_fsync_duration_seconds_count')).toBe((valueOf(before, 'cstore_wal_fsync_duration_seconds_count') as number) + 1);

      const head = await fetch(server.url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      const post = await fetch(server.url, { method: 'POST', body: 'x' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
      expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    } finally {
      await server.close();
      await store.close();
    }
  });

  it('a failing source answers 500 and the next scrape works again', async () => {
    let fail = true;
    const server = await serveMetrics(() => {
      if (fail) throw new Error('boom');
      return '# HELP t_up x\n# TYPE t_up gauge\nt_up 1\n';
    });
    try {
      const bad = await fetch(server.url);
      expect(bad.status).toBe(500);
      expect(await bad.text()).toContain('boom');
      fail = false;
      expect(valueOf(parseExposition(await (await fetch(server.url)).text()), 't_up')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('a port in use is the listen error; a bad port or path is refused', async () => {
    const a = await serveMetrics(() => '');
    try {
      await expect(serveMetrics(() => '', { port: a.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await a.close();
    }
    await expect(serveMetrics(() => '', { port: 70000 })).rejects.toThrow(RangeError);
    await expect(serveMetrics(() => '', { path: 'metrics' })).rejects.toThrow(RangeError);
  });

  it('the devnet port rule: unset is a free port, a base port adds the index, off is none, anything else INVALID_ARGUMENT', () => {
    expect(devnetMetricsPort(undefined, 3)).toBe(0);
    expect(devnetMetricsPort('', 3)).toBe(0);
    expect(devnetMetricsPort('9464', 0)).toBe(9464);
    expect(devnetMetricsPort('9464', 3)).toBe(9467);
    expect(devnetMetricsPort('off', 1)).toBeUndefined();
    for (const bad of ['x', '0', '-1', '65535', '1.5']) expect(() => devnetMetricsPort(bad, 1), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('cstore devnet serves each validator metrics', () => {
  it('prints the URL of v0, which answers a real scrape while the devnet runs (signatures, WAL batches)', async () => {
    const env = { ...process.env };
    delete env['CSTORE_DEVNET_METRICS_PORT'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'devnet', '--validators', '1', '--duration', '8', '--plain', '--dir', join(root, 'devnet')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no metrics URL printed: ${stdout}`)), 30_000);
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const m = /v0 metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stdout);
          if (m !== null) {
            clearTimeout(timer);
            resolve(m[1] as string);
          }
        });
      });
      // The validator signs as the devnet runs: scrape until its first signatures show.
      let families = parseExposition(await (await fetch(url)).text());
      for (let i = 0; i < 50 && (valueOf(families, 'cstore_signguard_permitted_signings_total', { signature: 'new' }) ?? 0) === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        families = parseExposition(await (await fetch(url)).text());
      }
      expect(valueOf(families, 'cstore_info', { backend: 'wal' })).toBe(1);
      expect(valueOf(families, 'cstore_signguard_permitted_signings_total', { signature: 'new' })).toBeGreaterThan(0);
      expect(valueOf(families, 'cstore_signguard_last_signed_height')).toBeGreaterThan(0);
      expect(valueOf(families, 'cstore_wal_fsync_duration_seconds_count')).toBeGreaterThan(0);
      expect(valueOf(families, 'cstore_disk_bytes', { kind: 'wal' })).toBeGreaterThan(0);
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    expect(stdout).toContain('== verdict ==');
  });
});
