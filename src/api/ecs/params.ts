/**
 * Declarative parameter schemas for ECS actions. One schema per action validates the flat wire
 * parameters (`Name`, `Name.N`, `Name.N.Field`, `Name.Field`) and yields typed values, with the
 * Alibaba error for each failure (MissingParameter / InvalidParameter or a field-specific code).
 * Unknown parameters are ignored, as Alibaba does.
 */
import { apiError, type ErrorCode } from '../../domain/errors.ts';
import type { TagFilter } from '../../services/tags.ts';
import { parseApiTime } from './views/time.ts';

interface Common {
  required?: boolean;
  /** Error code for a present but invalid value (default InvalidParameter with the name). */
  invalid?: ErrorCode;
}
export interface StringField extends Common { type: 'string'; maxLength?: number; minLength?: number; enum?: readonly string[]; caseInsensitive?: boolean }
export interface IntField extends Common { type: 'int'; min?: number; max?: number }
export interface BoolField extends Common { type: 'bool' }
export interface ListField extends Common { type: 'list'; max?: number; maxLength?: number }
export interface StructListField extends Common { type: 'structs'; max?: number; fields: Record<string, ScalarField> }
export interface ObjectField extends Common { type: 'object'; fields: Record<string, ScalarField> }
export type ScalarField = StringField | IntField | BoolField;
export type Field = ScalarField | ListField | StructListField | ObjectField;
export type Schema = Record<string, Field>;

type ScalarValue<F> = F extends IntField ? number : F extends BoolField ? boolean : F extends { enum: readonly (infer E)[] } ? E : string;
type Value<F> = F extends ScalarField
  ? ScalarValue<F>
  : F extends ListField
    ? string[]
    : F extends StructListField
      ? { [K in keyof F['fields']]?: ScalarValue<F['fields'][K]> }[]
      : F extends ObjectField
        ? { [K in keyof F['fields']]?: ScalarValue<F['fields'][K]> }
        : never;

type RequiredKeys<S extends Schema> = { [K in keyof S]: S[K] extends { required: true } ? K : never }[keyof S];
type ListKeys<S extends Schema> = { [K in keyof S]: S[K] extends ListField | StructListField | ObjectField ? K : never }[keyof S];
export type Params<S extends Schema> = { [K in RequiredKeys<S> | ListKeys<S>]: Value<S[K]> } & {
  [K in Exclude<keyof S, RequiredKeys<S> | ListKeys<S>>]?: Value<S[K]>;
};

function invalid(f: Common, name: string) {
  return f.invalid ? apiError(f.invalid, name) : apiError('InvalidParameter', name);
}

function parseScalar(f: ScalarField, name: string, raw: string): string | number | boolean {
  switch (f.type) {
    case 'string': {
      if (f.maxLength !== undefined && raw.length > f.maxLength) throw invalid(f, name);
      if (f.minLength !== undefined && raw.length < f.minLength) throw invalid(f, name);
      if (f.enum) {
        const hit = f.enum.find((e) => (f.caseInsensitive ? e.toLowerCase() === raw.toLowerCase() : e === raw));
        if (hit === undefined) throw invalid(f, name);
        return hit;
      }
      return raw;
    }
    case 'int': {
      if (!/^-?\d{1,16}$/.test(raw.trim())) throw invalid(f, name);
      const n = Number(raw.trim());
      if (!Number.isSafeInteger(n) || (f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) throw invalid(f, name);
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (v === 'true') return true;
      if (v === 'false') return false;
      throw invalid(f, name);
    }
  }
}

/**
 * Indices N present as `prefix.N` or `prefix.N.*`, sorted. An N outside 1..max, or not written canonically
 * (`0`, `01`), is refused rather than dropped: the caller meant something the action will not do.
 */
function indices(f: ListField | StructListField, raw: Record<string, string>, prefix: string): number[] {
  const max = f.max ?? 100;
  const seen = new Set<number>();
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)(?:\\.|$)`);
  for (const k of Object.keys(raw)) {
    const m = re.exec(k);
    if (!m) continue;
    const n = Number(m[1]);
    if (!(n >= 1 && n <= max) || String(n) !== m[1]) throw invalid(f, `${prefix}.${m[1]}`);
    seen.add(n);
  }
  return [...seen].sort((a, b) => a - b);
}

function parseFields(fields: Record<string, ScalarField>, raw: Record<string, string>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) {
    const name = `${prefix}.${key}`;
    const v = raw[name];
    if (v === undefined || v === '') {
      if (f.required) throw apiError('MissingParameter', name);
      continue;
    }
    out[key] = parseScalar(f, name, v);
  }
  return out;
}

export function parseParams<S extends Schema>(schema: S, raw: Record<string, string>): Params<S> {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(schema)) {
    if (f.type === 'list') {
      const list = indices(f, raw, name).map((n) => raw[`${name}.${n}`]).filter((v): v is string => v !== undefined && v !== '');
      if (f.maxLength !== undefined && list.some((v) => v.length > f.maxLength!)) throw invalid(f, name);
      if (f.required && list.length === 0) throw apiError('MissingParameter', `${name}.1`);
      out[name] = list;
    } else if (f.type === 'structs') {
      const list = indices(f, raw, name).map((n) => parseFields(f.fields, raw, `${name}.${n}`));
      if (f.required && list.length === 0) throw apiError('MissingParameter', `${name}.1`);
      out[name] = list;
    } else if (f.type === 'object') {
      out[name] = parseFields(f.fields, raw, name);
    } else {
      const v = raw[name];
      if (v === undefined || v === '') {
        if (f.required) throw apiError('MissingParameter', name);
        continue;
      }
      out[name] = parseScalar(f, name, v);
    }
  }
  return out as Params<S>;
}

/** Helpers that keep schemas short and literal-typed. */
export const p = {
  str: <const O extends Omit<StringField, 'type'>>(o?: O) => ({ type: 'string', ...(o ?? {}) }) as StringField & O,
  int: <const O extends Omit<IntField, 'type'>>(o?: O) => ({ type: 'int', ...(o ?? {}) }) as IntField & O,
  bool: <const O extends Omit<BoolField, 'type'>>(o?: O) => ({ type: 'bool', ...(o ?? {}) }) as BoolField & O,
  list: <const O extends Omit<ListField, 'type'>>(o?: O) => ({ type: 'list', ...(o ?? {}) }) as ListField & O,
  structs: <const F extends Record<string, ScalarField>, const O extends Omit<StructListField, 'type' | 'fields'>>(fields: F, o?: O) =>
    ({ type: 'structs', fields, ...(o ?? {}) }) as StructListField & O & { fields: F },
  object: <const F extends Record<string, ScalarField>>(fields: F) => ({ type: 'object', fields }) as ObjectField & { fields: F },
};

/** The region an action acts in. */
export const regionParam = { RegionId: p.str({ required: true, maxLength: 64 }) } as const;

/** Pagination shared by list actions: PageNumber ≥ 1, PageSize 1..100 (default 10). */
export const pageParams = {
  PageNumber: p.int({ min: 1, max: 1_000_000 }),
  PageSize: p.int({ min: 1, max: 100 }),
} as const;

export function page(params: { PageNumber?: number; PageSize?: number }): { pageNumber: number; pageSize: number; offset: number } {
  const pageNumber = params.PageNumber ?? 1;
  const pageSize = params.PageSize ?? 10;
  return { pageNumber, pageSize, offset: (pageNumber - 1) * pageSize };
}

/** Tag filters of the Describe* actions: up to 20 (Tag.21 and beyond are InvalidTagCount). */
export const tagFilterParams = { Tag: p.structs({ Key: p.str({ maxLength: 128 }), Value: p.str({ maxLength: 128 }) }, { max: 20, invalid: 'InvalidTagCount' }) } as const;

/** Tag.N filters: ≤ 20, a value needs a key. */
export function tagFilters(tags: { Key?: string; Value?: string }[]): TagFilter[] {
  if (tags.length > 20) throw apiError('InvalidTagCount');
  if (tags.some((t) => !t.Key && t.Value !== undefined)) throw apiError('InvalidTag.Mismatch');
  return tags.filter((t) => t.Key).map((t) => ({ key: t.Key!, value: t.Value }));
}

/**
 * `Filter.N` keys CreationStartTime and CreationEndTime narrow `range`; false for any other key (the caller
 * decides what else it accepts).
 */
export function creationTimeFilter(range: { createdFrom?: number; createdTo?: number }, key: string, value: string | undefined): boolean {
  if (key !== 'CreationStartTime' && key !== 'CreationEndTime') return false;
  const t = value === undefined ? undefined : parseApiTime(value);
  if (t === undefined) throw apiError('InvalidFilterValue');
  if (key === 'CreationStartTime') range.createdFrom = t;
  else range.createdTo = t;
  return true;
}

/** Tags as `Tag.N.Key`/`Tag.N.Value` (N ≤ 20; beyond is InvalidTagCount). */
export const tagParams = { Tag: p.structs({ Key: p.str({ maxLength: 128 }), Value: p.str({ maxLength: 128 }) }, { max: 20, invalid: 'InvalidTagCount' }) } as const;
