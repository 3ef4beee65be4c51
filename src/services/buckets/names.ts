/**
 * Bucket names and object keys. A key names a file inside its bucket and nothing else: it can never
 * climb out (`..`), start at the root (`/`), use another separator (`\`), hide a NUL or a control
 * character, or contain empty segments, so joining it under the bucket folder stays inside the folder.
 */
import { apiError } from '../../domain/errors.ts';

const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const MAX_KEY_BYTES = 1023;
const MAX_SEGMENT_BYTES = 255;

export function isBucketName(name: string): boolean {
  return BUCKET_NAME.test(name);
}

export function checkBucketName(name: string): void {
  if (!isBucketName(name)) throw apiError('InvalidBucketName');
}

/** Why `key` is not a safe object key, or undefined when it is one. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'the key is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `the key is longer than ${MAX_KEY_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'the key contains a control character';
  if (key.includes('\\')) return 'the key contains a backslash';
  if (key.startsWith('/')) return 'the key is an absolute path';
  for (const segment of key.split('/')) {
    if (segment === '') return 'the key has an empty path segment';
    if (segment === '.' || segment === '..') return `the key has a "${segment}" path segment`;
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return undefined;
}

export function checkObjectKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw apiError('InvalidObjectName', problem);
}
