/**
 * IMAGEHOUSE_LOOP_REPORT_MS: the server logs its event-loop delay and RSS every interval, at info even when the
 * log level is warn, and a callback that holds the loop shows up as the longest hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { startServer } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';

interface LoopLine { msg: string; loop: { maxMs: number; p99Ms: number; meanMs: number }; hold: { maxMs: number; what: string; over: number }; rssMiB: number; heapMiB: number }

test('the event-loop report logs delay, holds and memory each interval, and a 150 ms block appears as the longest hold', async () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => { text += d; });
  const server = await startServer({ logStream: stream, env: { IMAGEHOUSE_LOG_LEVEL: 'warn', IMAGEHOUSE_LOG_FORMAT: 'json', IMAGEHOUSE_LOOP_REPORT_MS: '100' } });
  try {
    const reports = () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as LoopLine).filter((l) => l.msg === 'event loop');
    await waitFor(() => reports().length > 0, { what: 'a first report' });
    const first = reports()[0];
    assert.ok(first.rssMiB > 0 && first.heapMiB > 0);
    assert.ok(Number.isFinite(first.loop.maxMs) && Number.isFinite(first.loop.p99Ms));

    const before = reports().length;
    const until = performance.now() + 150;
    while (performance.now() < until) { /* hold the loop, as a CPU-bound request would */ }
    await waitFor(() => reports().length > before + 1, { what: 'the reports after the block' });
    const after = reports().slice(before);
    assert.ok(after.some((r) => r.hold.maxMs >= 150 && r.hold.over >= 1 && r.hold.what !== ''), JSON.stringify(after));
  } finally {
    await server.stop();
  }
});
