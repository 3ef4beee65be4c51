/** Connection hygiene for the HTTP server: a cap on concurrent connections per client address. */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Refuses (closes at once) a connection from an address that already holds `max` open connections, so one
 * client cannot take every descriptor. 0 turns the limit off.
 */
export function limitConnectionsPerAddress(server: Server, max: number, onRefused?: (address: string) => void): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = open.get(address) ?? 0;
    if (n >= max) {
      onRefused?.(address);
      socket.destroy();
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

const deadline = Symbol('imagehouse.headersDeadline');
type Guarded = Socket & { [deadline]?: { timer?: NodeJS.Timeout; inFlight: number } };

/**
 * A second guard on the header timeout, one timer per connection: a connection whose request headers have not all
 * arrived `firstMs` after it opened, or `nextMs` after its last response (a kept-alive connection may wait idle for
 * its next request that long), is destroyed. Node's own check (headersTimeout, one timer
 * sweeping every connection) let the 64 slow-loris sockets a per-address cap admitted hold their slots for a whole
 * run in some runs of bench/load-soak.ts, while in others it cut them every 12 s; the cause was not found.
 */
export function cutSlowHeaders(server: Server, { firstMs, nextMs }: { firstMs: number; nextMs: number }): void {
  if (firstMs <= 0) return;
  const arm = (socket: Guarded, ms: number) => {
    const state = socket[deadline];
    if (!state || socket.destroyed || state.inFlight > 0) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => socket.destroy(), ms);
    state.timer.unref();
  };
  server.on('connection', (socket: Guarded) => {
    if (socket.destroyed) return;
    socket[deadline] = { inFlight: 0 };
    arm(socket, firstMs);
    socket.once('close', () => clearTimeout(socket[deadline]?.timer));
  });
  server.on('request', (req, res) => {
    const socket = req.socket as Guarded;
    const state = socket[deadline];
    if (!state) return;
    clearTimeout(state.timer);
    state.inFlight++;
    res.once('close', () => {
      state.inFlight--;
      arm(socket, nextMs);
    });
  });
}
