/**
 * IMAGEHOUSE_LOOP_REPORT_MS: the server logs its event-loop delay and RSS every interval, at info even when the
 * log level is warn, and a callback that holds the loop shows up as the longest hold and as a `long callback` line
 * whose window (monotonic µs, the clock of --cpu-prof profiles) contains the block.
 */
import { test } from 'node:test';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { startServer } from '../../support/server.ts';
import { waitFor } from '../../support/wait.ts';

interface LoopLine { msg: string; loop: { maxMs: number; p99Ms: number; meanMs: number }; hold: { maxMs: number; cpuMs: number; what: string; over: number }; rssMiB: number; rssAnonMiB: number; rssFileMiB: number; heapMiB: number }

/** This thread's CPU time (Linux). */
function threadCpuMs(): number {
  return Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e6;
}

test('the event-loop report logs delay, holds and memory each interval, and a 150 ms (CPU) block appears as the longest hold', { skip: fs.existsSync('/proc/thread-self/schedstat') ? false : 'needs Linux /proc/thread-self/schedstat' }, async () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => { text += d; });
  const server = await startServer({ logStream: stream, env: { IMAGEHOUSE_LOG_LEVEL: 'warn', IMAGEHOUSE_LOG_FORMAT: 'json', IMAGEHOUSE_LOOP_REPORT_MS: '100' } });
  try {
    const reports = () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as LoopLine).filter((l) => l.msg === 'event loop');
    await waitFor(() => reports().length > 0, { what: 'a first report' });
    const first = reports()[0];
    assert.ok(first.rssMiB > 0 && first.heapMiB > 0);
    assert.ok(first.rssAnonMiB > 0 && first.rssAnonMiB <= first.rssMiB && first.rssFileMiB >= 0, JSON.stringify(first));
    assert.ok(Number.isFinite(first.loop.maxMs) && Number.isFinite(first.loop.p99Ms));

    const before = reports().length;
    // Hold the loop for 150 ms of this thread's CPU, as a CPU-bound request would (wall time would depend on the machine's load).
    const blockFromUs = Number(process.hrtime.bigint() / 1000n);
    const until = threadCpuMs() + 150;
    while (threadCpuMs() < until) { /* busy */ }
    const blockToUs = Number(process.hrtime.bigint() / 1000n);
    await waitFor(() => reports().length > before + 1, { what: 'the reports after the block' });
    const after = reports().slice(before);
    assert.ok(after.some((r) => r.hold.cpuMs >= 150 && r.hold.maxMs >= r.hold.cpuMs && r.hold.over >= 1 && r.hold.what !== ''), JSON.stringify(after));
    const longs = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; hold: { cpuMs: number; fromUs: number; toUs: number } }).filter((l) => l.msg === 'long callback');
    assert.ok(longs.some((l) => l.hold.cpuMs >= 150 && l.hold.fromUs <= blockFromUs && l.hold.toUs >= blockToUs), JSON.stringify(longs));
  } finally {
    await server.stop();
  }
});
