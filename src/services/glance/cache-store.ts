/**
 * A node's Glance image cache on disk (services/glance/cache.ts has the use cases): whole copies of image data as
 * `DIR/ID`, queue markers as `DIR/queue/ID`, and, in memory, the images being filled and the hits since start.
 */
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
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

  /** The cached copy of image `id`, opened (the caller closes it); undefined when this node holds none. */
  async open(id: string): Promise<FileHandle | undefined> {
    return fs.open(this.entry(id), 'r').catch(() => undefined);
  }

  /** GET /file served image `id` from its cached copy. */
  countHit(id: string): void {
    this.hits.set(id, { hits: (this.hits.get(id)?.hits ?? 0) + 1, lastAccessed: this.clock.now() });
  }
}
