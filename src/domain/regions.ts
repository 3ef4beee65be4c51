import { apiError, type ErrorCode } from './errors.ts';

export interface Region {
  id: string;
  /** ID infix that makes resource IDs tell their region (cn-hangzhou → `bp1`). */
  infix: string;
  endpoint: string;
  localNames: Record<string, string>;
  zones: string[];
}

/** The configured regions, and the mapping from resource IDs back to them. */
export class Regions {
  private readonly byId = new Map<string, Region>();
  private readonly byInfix = new Map<string, Region>();

  constructor(readonly all: Region[]) {
    for (const r of all) {
      if (this.byInfix.has(r.infix)) throw new Error(`regions ${this.byInfix.get(r.infix)!.id} and ${r.id} share the ID infix ${r.infix}`);
      this.byId.set(r.id, r);
      this.byInfix.set(r.infix, r);
    }
  }

  get(id: string): Region | undefined {
    return this.byId.get(id);
  }

  /** The region, or the given error (InvalidRegionId.NotFound by default). */
  require(id: string, code: ErrorCode = 'InvalidRegionId.NotFound'): Region {
    const r = this.byId.get(id);
    if (!r) throw apiError(code);
    return r;
  }

  /** The region a custom resource ID (`m-bp1…`, `d-2ze…`) belongs to, from its infix. */
  ofResourceId(resourceId: string): Region | undefined {
    const body = resourceId.slice(resourceId.indexOf('-') + 1);
    for (const [infix, r] of this.byInfix) if (body.startsWith(infix)) return r;
    return undefined;
  }
}
