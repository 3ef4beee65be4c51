/** The one mapping from whatever a use case throws to the domain's API errors. */
import { ApiError, apiError } from '../domain/errors.ts';

export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return apiError('InternalError');
}
