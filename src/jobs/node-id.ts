/**
 * A node's identity for jobs pinned to it: kept in its data directory (`node-id`), because what pins a job to a
 * node is a file in that directory. A node restarted on the same directory is the same node and resumes its
 * jobs; two nodes never share a data directory. Host name first, so an operator can tell which machine it is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBase36 } from '../domain/ids.ts';

export function loadNodeId(dataDir: string): string {
  const file = path.join(dataDir, 'node-id');
  fs.mkdirSync(dataDir, { recursive: true });
  try {
    const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 24) || 'node';
    fs.writeFileSync(file, `${host}-${randomBase36(12)}\n`, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return fs.readFileSync(file, 'utf8').trim();
}
