/**
 * Operators' view of the event loop (IMAGEHOUSE_LOOP_REPORT_MS): every interval one log line, at info level
 * whatever the configured level, with
 * - `loop`: the loop's delay (max, p99, mean; perf_hooks.monitorEventLoopDelay): how late a timer ran. Under load it
 *   adds up every callback of one loop turn, and on a busy machine the time the process waited for a CPU;
 * - `hold`: the longest single callback, microtasks included, that ran without yielding (the wall time between two
 *   callbacks minus the loop's idle time in between), with what it was: the HTTP request last started on its
 *   socket (`GET /…`, with the ECS action) or the kind of callback (a timer, a file read); `over` counts callbacks
 *   that held the loop longer than HOLD_LIMIT_MS. This is the "no request holds the loop > 50 ms" figure;
 * - the process's RSS and heap.
 * The hold meter uses an async hook (a small cost on every callback), so it runs only when the report is on.
 * bench/load-soak.ts reads these lines.
 */
import { createHook, executionAsyncResource } from 'node:async_hooks';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { actionOf } from './logging.ts';

const MIB = 1024 * 1024;
/** Issue 11: no single request may hold the event loop for longer. */
export const HOLD_LIMIT_MS = 50;
const LABEL = Symbol('imagehouse.lastRequest');

/** Starts the report (call before the server is ready: it adds a request hook); returns its stop. */
export function reportEventLoop(server: FastifyInstance, intervalMs: number): () => void {
  const out = server.log.child({ component: 'event-loop' }, { level: 'info' });
  // The request a socket carries, so a long callback on that socket can be named.
  server.addHook('preHandler', async (req) => {
    const action = actionOf(req);
    (req.raw.socket as unknown as Record<symbol, string>)[LABEL] = `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}${action ? ` ${action}` : ''}`;
  });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const holds = holdMeter();
  const timer = setInterval(() => {
    const mem = process.memoryUsage();
    const hold = holds.take();
    out.info({
      loop: { maxMs: round(delay.max / 1e6), p99Ms: round(delay.percentile(99) / 1e6), meanMs: round(delay.mean / 1e6) },
      hold: { maxMs: round(hold.maxMs), what: hold.what, over: hold.over },
      rssMiB: Math.round(mem.rss / MIB), heapMiB: Math.round(mem.heapUsed / MIB),
    }, 'event loop');
    delay.reset();
  }, intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.disable();
    holds.stop();
  };
}

/** The longest callback since the last `take()`, and how many exceeded HOLD_LIMIT_MS. */
function holdMeter() {
  let lastAt = performance.now();
  let lastIdle = performance.nodeTiming.idleTime;
  let lastResource: unknown;
  let max = { maxMs: 0, what: '', over: 0 };
  // `before` runs as each callback starts: the previous one (and its microtasks) ran from `lastAt` until now.
  // Promise reactions also call it; they are the microtasks of the callback that runs them, not boundaries.
  const hook = createHook({
    before() {
      const resource = executionAsyncResource();
      if (resource instanceof Promise) return;
      const now = performance.now();
      const idle = performance.nodeTiming.idleTime;
      const held = now - lastAt - (idle - lastIdle);
      if (held > max.maxMs) max = { ...max, maxMs: held, what: describe(lastResource) };
      if (held > HOLD_LIMIT_MS) max.over++;
      lastAt = now;
      lastIdle = idle;
      lastResource = resource;
    },
  }).enable();
  return {
    take() {
      const taken = max;
      max = { maxMs: 0, what: '', over: 0 };
      return taken;
    },
    stop: () => hook.disable(),
  };
}

let ownerSymbol: symbol | undefined;

/** The request last started on the callback's socket, or else the kind of callback. */
function describe(resource: unknown): string {
  if (!resource || typeof resource !== 'object') return '';
  const r = resource as Record<string | symbol, any>;
  ownerSymbol ??= Object.getOwnPropertySymbols(r).find((s) => s.description === 'owner_symbol');
  const socket = r.socket ?? (ownerSymbol ? r[ownerSymbol] : undefined);
  const label = socket?.[LABEL] ?? r[LABEL];
  return label ?? (r.constructor?.name || 'callback');
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
