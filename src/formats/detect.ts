/**
 * Format detection by signature. Every signature is checked and at most one container format may match
 * (an ISO that also carries an MBR/GPT is the one legitimate overlap, as partition tables are not containers).
 * A declared format must equal the detected one: a file declared raw that carries any container magic is
 * rejected (CVE-2024-40767), never treated as raw or as the other format.
 */
import { fail, FormatMismatchError } from './errors.ts';
import type { ByteSource, DetectedFormat, ImportFormat } from './types.ts';
import { readClipped } from './source.ts';

export type PartitionTable = 'mbr' | 'gpt';

export interface Detection {
  /** The single container format found, or 'raw' when none matched. */
  format: DetectedFormat;
  /** Partition table found at the start of the file (meaningful for raw and ISO). */
  partitionTable: PartitionTable | null;
  /** VMDK only: the file is a text descriptor rather than a sparse extent. */
  vmdkDescriptor: boolean;
}

/** Bytes at the start that hold every signature we look for (ISO descriptors end before 0x9800). */
export const HEAD_BYTES = 64 * 1024;
export const TAIL_BYTES = 1024;

const ISO_OFFSETS = [0x8001, 0x8801, 0x9001];
const ISO_IDS = ['CD001', 'BEA01', 'NSR02', 'NSR03', 'TEA01'];

function at(buf: Buffer, off: number, sig: string | Buffer): boolean {
  const s = typeof sig === 'string' ? Buffer.from(sig, 'latin1') : sig;
  return off >= 0 && off + s.length <= buf.length && buf.subarray(off, off + s.length).equals(s);
}

/** QEMU's probe for a VMDK text descriptor: comment and blank lines, then `version=1|2|3`. */
export function looksLikeVmdkDescriptor(head: Buffer): boolean {
  if (at(head, 0, '# Disk DescriptorFile')) return true;
  let p = 0;
  while (p < head.length) {
    const c = head[p];
    if (c === 0x23 /* # */) {
      while (p < head.length && head[p] !== 0x0a) p++;
      p++;
      continue;
    }
    if (c === 0x20 || c === 0x0d || c === 0x0a) {
      while (p < head.length && head[p] === 0x20) p++;
      if (p < head.length && head[p] === 0x0d) p++;
      if (p >= head.length || head[p] !== 0x0a) return false;
      p++;
      continue;
    }
    return /^version=[123]\r?\n/.test(head.subarray(p, p + 11).toString('latin1'));
  }
  return false;
}

function isFatBootSector(head: Buffer): boolean {
  const jump = head[0] === 0xeb || head[0] === 0xe9;
  const fatLabel = at(head, 54, 'FAT') || at(head, 82, 'FAT32');
  return (jump && fatLabel) || (head[0x10] === 2 && head[0x15] === 0xf8);
}

/** A plausible MBR (or protective MBR): the 55AA signature, sane boot flags, at least one partition. */
function hasMbr(head: Buffer): boolean {
  if (head.length < 512 || head[510] !== 0x55 || head[511] !== 0xaa || isFatBootSector(head)) return false;
  let partitions = 0;
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    if (head[e] !== 0 && head[e] !== 0x80) return false;
    if (head[e + 4] !== 0) partitions++;
  }
  return partitions > 0;
}

export function partitionTableOf(head: Buffer): PartitionTable | null {
  if (at(head, 512, 'EFI PART') || at(head, 4096, 'EFI PART')) return 'gpt';
  return hasMbr(head) ? 'mbr' : null;
}

/** Container signatures present in the head and tail of the file, deduplicated, in a fixed order. */
export function containerMatches(head: Buffer, tail: Buffer, fileSize: number): { formats: DetectedFormat[]; vmdkDescriptor: boolean } {
  const found = new Set<DetectedFormat>();
  let vmdkDescriptor = false;
  if (at(head, 0, Buffer.from([0x51, 0x46, 0x49, 0xfb]))) found.add('qcow2');
  if (at(head, 0, Buffer.from('QED\0', 'latin1'))) found.add('qed');
  if (at(head, 0, 'conectix')) found.add('vhd');
  // Fixed VHD: the footer is the last 512 bytes (511 for old Virtual PC files).
  const tailStart = fileSize - tail.length;
  if (fileSize >= 1024 && (at(tail, fileSize - 512 - tailStart, 'conectix') || at(tail, fileSize - 511 - tailStart, 'conectix'))) found.add('vhd');
  if (at(head, 0, 'vhdxfile')) found.add('vhdx');
  if (at(head, 0, 'KDMV') || at(head, 0, 'COWD')) found.add('vmdk');
  else if (looksLikeVmdkDescriptor(head)) {
    found.add('vmdk');
    vmdkDescriptor = true;
  }
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f) found.add('vdi');
  if (at(head, 0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]))) found.add('luks');
  if (ISO_OFFSETS.some((off) => ISO_IDS.some((id) => at(head, off, id)))) found.add('iso');
  return { formats: [...found], vmdkDescriptor };
}

/**
 * Detects the container format from the head and tail of the file.
 * Throws FormatMismatchError when several container formats match.
 */
export async function detect(src: ByteSource, declared?: ImportFormat): Promise<Detection> {
  const head = await readClipped(src, 0, HEAD_BYTES, 'file header');
  const tailLen = Math.min(TAIL_BYTES, src.size);
  const tail = await readClipped(src, src.size - tailLen, tailLen, 'file trailer');
  return detectFromBytes(head, tail, src.size, declared);
}

/** Detection over already-captured bytes (e.g. while an upload streams): the first 64 KiB and the last 1 KiB. */
export function detectFromBytes(head: Buffer, tail: Buffer, fileSize: number, declared?: ImportFormat): Detection {
  const { formats, vmdkDescriptor } = containerMatches(head, tail, fileSize);
  if (formats.length > 1) {
    throw new FormatMismatchError(declared ?? 'unspecified', `ambiguous (it matches ${formats.join(', ')})`);
  }
  return { format: formats[0] ?? 'raw', partitionTable: partitionTableOf(head), vmdkDescriptor };
}

/**
 * Applies the declared-format rules and returns the format to import.
 * Declared ≠ detected ⇒ FormatMismatchError; QED, VDI and LUKS ⇒ 'unsupported-format'.
 */
export function checkDeclared(detected: DetectedFormat, declared?: ImportFormat): ImportFormat {
  if (declared !== undefined && declared !== detected) throw new FormatMismatchError(declared, detected);
  switch (detected) {
    case 'qed':
    case 'vdi':
    case 'luks':
      return fail('unsupported-format', detected);
    default:
      return detected;
  }
}
