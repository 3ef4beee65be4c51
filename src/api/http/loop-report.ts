/**
 * Operators' view of the event loop (IMAGEHOUSE_LOOP_REPORT_MS): every interval one log line, at info level
 * whatever the configured level, with the loop's delay (max and p99, from perf_hooks.monitorEventLoopDelay) and
 * the process's memory. The loop delay is how long a ready callback waited: a request that holds the loop for
 * 80 ms shows up as a max of about 80 ms in its interval. bench/load-soak.ts reads these lines.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';

const MIB = 1024 * 1024;

/** Starts the report; returns its stop. */
export function reportEventLoop(log: FastifyBaseLogger, intervalMs: number): () => void {
  const out = log.child({ component: 'event-loop' }, { level: 'info' });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const timer = setInterval(() => {
    const mem = process.memoryUsage();
    out.info({
      loop: { maxMs: round(delay.max / 1e6), p99Ms: round(delay.percentile(99) / 1e6), meanMs: round(delay.mean / 1e6) },
      rssMiB: Math.round(mem.rss / MIB), heapMiB: Math.round(mem.heapUsed / MIB),
    }, 'event loop');
    delay.reset();
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
