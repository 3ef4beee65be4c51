/**
 * Progress on stderr: a redrawn bar (bytes, rate, ETA) on a terminal, plain lines every 10% or 5 s
 * otherwise, so logs and pipes stay readable. Percent mode shows a task's progress as the service reports it.
 */
import type { CliIo } from '../../command.ts';

const MiB = 1024 * 1024;
const REDRAW_MS = 100;
const LINE_EVERY_MS = 5000;

export interface ProgressOptions {
  /** Redraws in place with this writer (a TTY); without it, whole lines go to io.err. */
  write?: (s: string) => void;
  unit?: 'bytes' | 'percent';
  now?: () => number;
}

function human(bytes: number): string {
  return bytes >= 1024 * MiB ? `${(bytes / (1024 * MiB)).toFixed(2)} GiB` : `${(bytes / MiB).toFixed(1)} MiB`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class ProgressBar {
  private done = 0;
  private readonly started: number;
  private lastDraw = 0;
  private lastLinePct = -1;
  private lastLineAt = 0;
  private readonly now: () => number;

  constructor(private readonly io: CliIo, private readonly label: string, private readonly total: number, private readonly opts: ProgressOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
  }

  add(n: number): void {
    this.set(this.done + n);
  }

  set(done: number): void {
    this.done = done;
    const t = this.now();
    if (this.opts.write) {
      if (t - this.lastDraw >= REDRAW_MS) {
        this.lastDraw = t;
        this.opts.write(`\r${this.line(true)}\x1b[K`);
      }
      return;
    }
    const pct = this.pct();
    if (Math.floor(pct / 10) > Math.floor(this.lastLinePct / 10) || t - this.lastLineAt >= LINE_EVERY_MS) {
      this.lastLinePct = pct;
      this.lastLineAt = t;
      this.io.err(this.line(false));
    }
  }

  finish(suffix = 'done'): void {
    if (this.opts.write) this.opts.write(`\r${this.line(true)} ${suffix}\x1b[K\n`);
    else this.io.err(`${this.line(false)} ${suffix}`);
  }

  private pct(): number {
    return this.total > 0 ? Math.min(100, Math.floor((100 * this.done) / this.total)) : 100;
  }

  private line(bar: boolean): string {
    const pct = this.pct();
    const drawn = bar ? ` [${'#'.repeat(Math.floor(pct / 5)).padEnd(20, '.')}]` : ':';
    if (this.opts.unit === 'percent') return `${this.label}${drawn} ${pct}%`;
    const seconds = Math.max(0.001, (this.now() - this.started) / 1000);
    const rate = this.done / seconds;
    const eta = rate > 0 ? (this.total - this.done) / rate : Infinity;
    return `${this.label}${drawn} ${pct}% ${human(this.done)} of ${human(this.total)}, ${human(rate)}/s, ETA ${duration(eta)}`;
  }
}

/** In-place redraws when both stdout and stderr are terminals. */
export function terminalWriter(io: CliIo): ((s: string) => void) | undefined {
  return io.isTTY && process.stderr.isTTY ? (s) => process.stderr.write(s) : undefined;
}
