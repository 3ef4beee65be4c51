/**
 * A node's Glance image cache on disk (services/glance/cache.ts has the use cases): whole copies of image data as
 * `DIR/ID`, queue markers as `DIR/queue/ID`, and, in memory, the images being filled and the hits since start.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../../domain/clock.ts';

export class ImageCache {
  readonly filling = new Set<string>();
  readonly hits = new Map<string, { hits: number; lastAccessed: number }>();
  constructor(readonly dir: string, private readonly clock: Clock) {}

  entry(id: string): string {
    return path.join(this.dir, id);
  }

  marker(id: string): string {
    return path.join(this.dir, 'queue', id);
  }

  /** The cached copy of image `id` for GET /file, counting the hit; undefined when this node holds none. */
  async read(id: string): Promise<{ size: number; stream: Readable } | undefined> {
    const handle = await fs.open(this.entry(id), 'r').catch(() => undefined);
    if (!handle) return undefined;
    const { size } = await handle.stat();
    this.hits.set(id, { hits: (this.hits.get(id)?.hits ?? 0) + 1, lastAccessed: this.clock.now() });
    return { size, stream: handle.createReadStream() };
  }
}
