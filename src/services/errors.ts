/**
 * The one mapping from data-plane failures to API errors. Formats raise FormatError and the chunk layer its own
 * errors; whatever leaves a service (a job's recorded error, a route, the CLI) goes through `toApiError`.
 */
import { ApiError, apiError, type ErrorCode } from '../domain/errors.ts';
import { FormatError, FormatMismatchError, type FormatErrorReason } from '../formats/errors.ts';
import { ChunkCorruptError, ChunkNotFoundError, ChunkNotLiveError } from '../blobs/errors.ts';
import type { JobHandler } from '../jobs/index.ts';

const FORMAT_CODES: Record<FormatErrorReason, ErrorCode> = {
  'backing-file': 'InvalidImage.BackingFile',
  'external-data-file': 'InvalidImage.ExternalDataFile',
  encrypted: 'InvalidImage.Encrypted',
  'unknown-feature': 'InvalidImage.UnknownFeature',
  'unsafe-extent': 'InvalidImage.UnsafeExtent',
  'table-out-of-bounds': 'InvalidImage.TableOutOfBounds',
  'table-overlap': 'InvalidImage.TableOverlap',
  'shared-cluster': 'InvalidImage.SharedCluster',
  'absurd-size': 'InvalidImage.AbsurdSize',
  truncated: 'InvalidImage.Truncated',
  'bad-checksum': 'InvalidImage.BadChecksum',
  malformed: 'InvalidImage.Malformed',
  'unsupported-format': 'InvalidImage.UnsupportedFormat',
  'unsupported-feature': 'InvalidImage.UnsupportedFeature',
  'format-mismatch': 'InvalidImageFormat.Mismatch',
  unexportable: 'InvalidImageFormat.Malformed',
};

function isChunkError(e: unknown): e is ChunkNotFoundError | ChunkCorruptError | ChunkNotLiveError {
  return e instanceof ChunkNotFoundError || e instanceof ChunkCorruptError || e instanceof ChunkNotLiveError;
}

/** The API error `e` stands for. ApiErrors pass through; anything unexpected is an InternalError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof FormatMismatchError) return apiError(FORMAT_CODES[e.reason], e.declared, e.found);
  if (e instanceof FormatError) {
    // The export code's template has no slot for the reason, so the detail is the message.
    if (e.reason === 'unexportable') return new ApiError(FORMAT_CODES[e.reason], e.detail);
    return apiError(FORMAT_CODES[e.reason], e.detail);
  }
  if (isChunkError(e)) return new ApiError('InternalError', e.message);
  return apiError('InternalError');
}

/**
 * A job handler whose data-plane errors leave as the API errors they stand for, so the worker records their
 * code on the task. Other errors (and a `retryable` mark on any of them) pass through unchanged.
 */
export function withApiErrors(handler: JobHandler): JobHandler {
  return async (job, ctx) => {
    try {
      return await handler(job, ctx);
    } catch (e) {
      if (!(e instanceof FormatError) && !isChunkError(e)) throw e;
      const mapped = toApiError(e);
      if ((e as { retryable?: unknown }).retryable === true) Object.assign(mapped, { retryable: true });
      throw mapped;
    }
  };
}
