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
