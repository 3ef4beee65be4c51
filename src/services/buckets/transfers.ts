/**
 * Object bodies into and out of the owner's bucket. Each transfer is one of the owner's limited concurrent heavy
 * requests (account-work.ts): a download's slot is held until its `release`, which the caller calls once the body
 * is over (sent, failed or abandoned).
 */
import type { Services } from '../context.ts';
import type { ObjectBody } from './object-store.ts';
import type { Readable } from 'node:stream';

export function putObject(services: Services, owner: string, bucket: string, key: string, body: ObjectBody): Promise<{ size: number }> {
  return services.work.run(owner, () => services.objects.put(bucket, key, body));
}

export interface ObjectDownload {
  size: number;
  body: Readable | AsyncIterable<Buffer>;
  release(): void;
}

/** The object's bytes, plain or as a sparse body (its holes not sent). */
export async function downloadObject(services: Services, owner: string, bucket: string, key: string, sparse: boolean): Promise<ObjectDownload> {
  const release = services.work.hold(owner);
  try {
    return { ...(sparse ? await services.objects.getSparse(bucket, key) : await services.objects.get(bucket, key)), release };
  } catch (e) {
    release();
    throw e;
  }
}
