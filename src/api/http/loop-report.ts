/**
 * Operators' view of the event loop (IMAGEHOUSE_LOOP_REPORT_MS): every interval one log line, at info level
 * whatever the configured level, with
 * - `loop`: the loop's delay (max, p99, mean; perf_hooks.monitorEventLoopDelay): how late a timer ran. Under load it
 *   adds up every callback of one loop turn, and on a busy machine the time the process waited for a CPU;
 * - `hold`: the longest single callback, microtasks and nextTicks included, that ran without yielding: `cpuMs`, the
 *   main thread's CPU meanwhile (Linux: /proc/thread-self/schedstat, to a scheduler tick); `maxMs`, its wall time
 *   (minus the loop's idle time), which on a busy machine also counts waiting for a CPU; `gcMs`, the garbage-collector
 *   pauses inside it; `what`, the HTTP request last started on its socket (`GET / DescribeImages`) or the kind of
 *   callback (`Timeout run`, `FSReqCallback`). `over` counts callbacks whose CPU (or, without it, wall time) passed
 *   HOLD_LIMIT_MS. This is the "no request holds the loop > 50 ms" figure;
 * - the process's RSS, V8 heap and memory outside it that V8 tracks (`externalMiB`: Buffers); on Linux the RSS also in its anonymous and file-backed parts (`rssAnonMiB`,
 *   `rssFileMiB`): SQLite's memory-mapped database file counts in the RSS and grows with the file.
 * Each callback over HOLD_LIMIT_MS is also logged (`long callback`). Both give the callback's window on the monotonic
 * clock in microseconds (`fromUs`, `toUs`), the clock of a `--cpu-prof` profile's timestamps, so
 * bench/profile-holds.ts can show what ran in it.
 * The hold meter uses an async hook (a small cost on every callback), so it runs only when the report is on.
 * bench/load-soak.ts reads these lines.
 */
import fs from 'node:fs';
import { createHook, executionAsyncResource } from 'node:async_hooks';
import { monitorEventLoopDelay, performance, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
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
  // Logged from the timer, not from inside the async hook (a log write there would start async work of its own).
  let longHolds: LongHold[] = [];
  const holds = holdMeter((long) => { if (longHolds.length < 100) longHolds.push(long); });
  const timer = setInterval(() => {
    const mem = process.memoryUsage();
    const hold = holds.take();
    for (const long of longHolds) out.warn({ hold: long }, 'long callback');
    longHolds = [];
    out.info({
      loop: { maxMs: round(delay.max / 1e6), p99Ms: round(delay.percentile(99) / 1e6), meanMs: round(delay.mean / 1e6) },
      hold: { maxMs: round(hold.maxMs), cpuMs: round(hold.cpuMs), gcMs: round(hold.gcMs), what: hold.what, over: hold.over, fromUs: hold.fromUs, toUs: hold.toUs },
      rssMiB: Math.round(mem.rss / MIB), ...rssParts(), heapMiB: Math.round(mem.heapUsed / MIB), externalMiB: Math.round(mem.external / MIB),
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

/** A callback that held the loop over HOLD_LIMIT_MS; `fromUs`/`toUs` are on the monotonic clock (process.hrtime). */
export interface LongHold { what: string; cpuMs: number; wallMs: number; fromUs: number; toUs: number }

/** The longest callback since the last `take()` (by CPU when known, else wall time), and how many exceeded HOLD_LIMIT_MS. */
function holdMeter(onLong: (hold: LongHold) => void) {
  // performance.now() and process.hrtime run on the same monotonic clock from different origins.
  const hrOriginUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
  const cpuNow = threadCpuClock();
  let lastAt = performance.now();
  let lastIdle = performance.nodeTiming.idleTime;
  let lastCpu = cpuNow();
  let lastResource: unknown;
  const none = { maxMs: 0, cpuMs: 0, what: '', over: 0, from: 0, to: 0 };
  let max = { ...none };
  // Garbage-collector pauses arrive a little later than the callback they paused; they are matched to the longest
  // callback by time when the interval is reported.
  let pauses: PerformanceEntry[] = [];
  const gc = new PerformanceObserver((list) => { pauses.push(...list.getEntries()); });
  gc.observe({ entryTypes: ['gc'] });
  // `before` runs as each callback starts: the previous one (and its microtasks) ran from `lastAt` until now.
  // Promise reactions and process.nextTick callbacks also call it; they run in the queue that the callback before
  // them left, so they are part of that callback, not boundaries.
  const hook = createHook({
    before() {
      const resource = executionAsyncResource();
      if (resource instanceof Promise || isTick(resource)) return;
      const now = performance.now();
      const idle = performance.nodeTiming.idleTime;
      const cpu = cpuNow();
      const held = now - lastAt - (idle - lastIdle);
      const heldCpu = cpu - lastCpu;
      const measure = Number.isNaN(heldCpu) ? held : heldCpu;
      if (measure > (Number.isNaN(heldCpu) ? max.maxMs : max.cpuMs)) max = { ...max, maxMs: held, cpuMs: heldCpu, what: describe(lastResource), from: lastAt, to: now };
      if (measure > HOLD_LIMIT_MS) {
        max.over++;
        onLong({ what: describe(lastResource), cpuMs: round(heldCpu), wallMs: round(held), fromUs: Math.round(hrOriginUs + lastAt * 1000), toUs: Math.round(hrOriginUs + now * 1000) });
      }
      lastAt = now;
      lastIdle = idle;
      lastCpu = cpu;
      lastResource = resource;
    },
  }).enable();
  return {
    take() {
      const { from, to, ...taken } = max;
      const gcMs = pauses.filter((p) => p.startTime >= from && p.startTime < to).reduce((n, p) => n + p.duration, 0);
      pauses = pauses.filter((p) => p.startTime >= performance.now() - 5_000);
      max = { ...none };
      return { ...taken, gcMs, fromUs: Math.round(hrOriginUs + from * 1000), toUs: Math.round(hrOriginUs + to * 1000) };
    },
    stop: () => {
      hook.disable();
      gc.disconnect();
    },
  };
}

/** Milliseconds of CPU the calling thread has used (NaN where /proc/thread-self/schedstat does not exist). */
function threadCpuClock(): () => number {
  let fd: number;
  try {
    fd = fs.openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return () => NaN;
  }
  const buf = Buffer.alloc(64);
  return () => {
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return Number(buf.toString('latin1', 0, n).split(' ')[0]) / 1e6;
  };
}

/** A process.nextTick entry: a plain object holding the callback and its arguments. */
function isTick(resource: object): boolean {
  return Object.getPrototypeOf(resource) === Object.prototype && 'callback' in resource && 'args' in resource;
}

let ownerSymbol: symbol | undefined;

/** The request last started on the callback's socket, or else the kind of callback. */
function describe(resource: unknown): string {
  if (!resource || typeof resource !== 'object') return '';
  const r = resource as Record<string | symbol, any>;
  ownerSymbol ??= Object.getOwnPropertySymbols(r).find((s) => s.description === 'owner_symbol');
  const socket = r.socket ?? (ownerSymbol ? r[ownerSymbol] : undefined);
  const label = socket?.[LABEL] ?? r[LABEL];
  if (label) return label;
  // Timers and immediates carry their callback: its name says whose it is (`Timeout run`, `Immediate resolve`).
  const fn = r._onTimeout ?? r._onImmediate;
  const kind = r.constructor?.name || 'callback';
  return typeof fn === 'function' && fn.name ? `${kind} ${fn.name}` : kind;
}

/** RssAnon and RssFile of /proc/self/status in MiB (nothing where it does not exist). */
function rssParts(): { rssAnonMiB?: number; rssFileMiB?: number } {
  let status: string;
  try {
    status = fs.readFileSync('/proc/self/status', 'latin1');
  } catch {
    return {};
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssAnonMiB: Math.round(kib('RssAnon') / 1024), rssFileMiB: Math.round(kib('RssFile') / 1024) };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
