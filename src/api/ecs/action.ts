import type { Services } from '../../services/context.ts';
import { parseParams, type Params, type Schema } from './params.ts';

export interface ActionContext {
  accountId: string;
  requestId: string;
  services: Services;
}

export interface Action<S extends Schema = Schema> {
  name: string;
  schema: S;
  /** Changes nothing, so it may run while the request's nonce is still being recorded (its answer waits for that). */
  readOnly?: true;
  run(ctx: ActionContext, params: Params<S>): Promise<Record<string, unknown>>;
}

export function defineAction<const S extends Schema>(a: Action<S>): Action<S> {
  return a;
}

export async function runAction(action: Action, ctx: ActionContext, raw: Record<string, string>): Promise<Record<string, unknown>> {
  return action.run(ctx, parseParams(action.schema, raw));
}
