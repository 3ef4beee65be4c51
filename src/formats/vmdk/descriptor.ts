/**
 * VMDK text descriptors. Extents name other files or devices (FLAT "/etc/shadow", fullDevice, ...), which is
 * how qemu-img was made to leak host files (CVE-2022-47951). Only a descriptor embedded in a sparse extent is
 * accepted, and only when it describes exactly that extent: createType monolithicSparse or streamOptimized,
 * one SPARSE extent with a plain file name, and no parent.
 */
import { fail } from '../errors.ts';

const ALLOWED_CREATE_TYPES = ['monolithicSparse', 'streamOptimized'];
const EXTENT = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)(?:\s+"([^"]*)")?(?:\s+(\d+))?\s*$/;
const KEY_VALUE = /^([A-Za-z][A-Za-z0-9_.]*)\s*=\s*(.*)$/;

export interface Extent {
  access: string;
  sectors: number;
  type: string;
  file: string | null;
  offset: number | null;
}

export interface Descriptor {
  createType: string | null;
  extents: Extent[];
  values: Map<string, string>;
}

/** Parses descriptor text; any line that is not a comment, `key = value` or an extent is rejected. */
export function parseDescriptor(text: string): Descriptor {
  const values = new Map<string, string>();
  const extents: Extent[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const e = EXTENT.exec(line);
    if (e) {
      extents.push({ access: e[1], sectors: Number(e[2]), type: e[3].toUpperCase(), file: e[4] ?? null, offset: e[5] === undefined ? null : Number(e[5]) });
      continue;
    }
    const kv = KEY_VALUE.exec(line);
    if (!kv) fail('unsafe-extent', `unexpected descriptor line ${JSON.stringify(line.slice(0, 100))}`);
    values.set(kv[1], kv[2].trim().replace(/^"(.*)"$/, '$1'));
  }
  return { createType: values.get('createType') ?? null, extents, values };
}

function describe(e: Extent): string {
  return `${e.type}${e.file === null ? '' : ` ${JSON.stringify(e.file.slice(0, 100))}`}`;
}

/** A standalone descriptor file always points at other files: rejected, naming what it points at. */
export function rejectDescriptorFile(text: string): never {
  let detail = 'a standalone VMDK descriptor refers to extent files outside the upload';
  try {
    const d = parseDescriptor(text);
    if (d.extents.length > 0) detail += `: ${d.extents.map(describe).join(', ')}`;
  } catch {
    // the generic message is enough
  }
  fail('unsafe-extent', detail);
}

/** Checks an embedded descriptor against the sparse extent that carries it. */
export function checkEmbeddedDescriptor(text: string, capacitySectors: number): Descriptor {
  const d = parseDescriptor(text);
  if (d.createType === null || !ALLOWED_CREATE_TYPES.includes(d.createType)) {
    fail('unsafe-extent', `createType ${JSON.stringify(d.createType)} is not monolithicSparse or streamOptimized`);
  }
  const parent = d.values.get('parentCID');
  if ((parent !== undefined && parent.toLowerCase() !== 'ffffffff') || d.values.has('parentFileNameHint')) {
    fail('backing-file', `VMDK parent ${JSON.stringify(d.values.get('parentFileNameHint') ?? parent)}`);
  }
  if (d.extents.length !== 1) fail('unsafe-extent', `${d.extents.length} extents (exactly one SPARSE extent is allowed)`);
  const e = d.extents[0];
  if (e.type !== 'SPARSE') fail('unsafe-extent', `extent type ${describe(e)}`);
  if (e.file === null || e.file === '' || /[/\\]/.test(e.file) || e.offset !== null) {
    fail('unsafe-extent', `extent ${describe(e)} must name the image file itself`);
  }
  if (e.sectors !== capacitySectors) fail('malformed', `the VMDK extent has ${e.sectors} sectors but the header says ${capacitySectors}`);
  return d;
}
