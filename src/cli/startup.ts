/** Checks `imagehouse serve` makes before it creates anything, each failing with a one-line StartupError. */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { StartupError } from '../config.ts';

export interface ReservedPort {
  /** The bound port (the one the system picked, for port 0). */
  port: number;
  release(): Promise<void>;
}

/** Binds host:port (so nothing is created when it is taken); the server listens on it right after release(). */
export function reservePort(host: string, port: number, flag: string): Promise<ReservedPort> {
  return new Promise((resolve, reject) => {
    // A client that connects while the app starts (a health-check poller) is cut off at once: close() waits for
    // every accepted connection, so one left open would hold the port and stall the start for good.
    const server = net.createServer((socket) => socket.destroy());
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new StartupError('port', `port ${port} is in use (try ${flag})`));
      else if (e.code === 'EACCES') reject(new StartupError('port', `port ${port} needs privileges this user lacks (try ${flag} above 1023)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new StartupError('port', `cannot listen on ${host}: no such local address (try --host 127.0.0.1)`));
      else reject(e);
    });
    server.listen({ port, host, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      resolve({ port: bound, release: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

/** The data directory, or the nearest folder above it that exists, must be a directory this user can write. */
export function checkDataDir(dir: string): void {
  let existing = dir;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  let reason: string | undefined;
  try {
    if (!fs.statSync(existing).isDirectory()) reason = `${existing} is not a directory`;
    else fs.accessSync(existing, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    reason = (e as NodeJS.ErrnoException).code === 'EACCES' ? `no permission to read and write ${existing}` : (e as Error).message;
  }
  if (reason) throw new StartupError('dataDir', `cannot use the data directory ${dir}: ${reason} (check --data or IMAGEHOUSE_DATA)`);
}
