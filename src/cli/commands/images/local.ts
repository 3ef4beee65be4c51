/** Local data-plane commands: they run the engine on files, with no server. */
import fs from 'node:fs';
import type { Command } from '../../command.ts';
import { EXIT } from '../../command.ts';
import { ApiError } from '../../../domain/errors.ts';
import { FormatError } from '../../../formats/errors.ts';
import { toApiError } from '../../../services/errors.ts';
import { inspect, openFileSource, openReader } from '../../../formats/index.ts';
import { readerDisk } from '../../../formats/reader-disk.ts';
import { writeExportFile } from '../../../formats/writers/index.ts';
import type { ExportFormat, ImportFormat } from '../../../formats/types.ts';

const IMPORT_FORMATS: ImportFormat[] = ['raw', 'qcow2', 'vhd', 'vhdx', 'vmdk', 'iso'];
const OUTPUT_FORMATS: Record<string, ExportFormat> = { raw: 'raw', qcow2: 'qcow2', vhd: 'vhd', 'vhd-fixed': 'vhd-fixed', vmdk: 'vmdk' };

function declared(flag: string | true | undefined): ImportFormat | undefined {
  if (typeof flag !== 'string') return undefined;
  const f = flag.toLowerCase() as ImportFormat;
  if (!IMPORT_FORMATS.includes(f)) throw new ApiError('InvalidImageFormat.Malformed', `unknown format "${flag}" (one of ${IMPORT_FORMATS.join(', ')})`);
  return f;
}

/** One clear line for a rejected input, and the exit code for rejections. */
function rejected(io: { err(l: string): void }, e: unknown): number {
  if (!(e instanceof ApiError || e instanceof FormatError)) throw e;
  const err = toApiError(e);
  io.err(`rejected: ${err.code}: ${err.message}`);
  return EXIT.rejected;
}

export const inspectCommand: Command = {
  path: ['inspect'],
  summary: 'Inspect a disk image file safely (format, virtual size, allocation) or print why it is rejected',
  usage: 'imagehouse inspect FILE [--format raw|qcow2|vhd|vhdx|vmdk|iso] [--json]\n\nExample:\n  imagehouse inspect disk.qcow2 --json',
  async run({ flags, rest }, io) {
    const file = rest[0];
    if (!file) { io.err('inspect: FILE is required'); return EXIT.usage; }
    if (!fs.existsSync(file)) { io.err(`inspect: ${file}: no such file`); return EXIT.notFound; }
    const src = await openFileSource(file);
    try {
      const r = await inspect(src, { declared: declared(flags.format) });
      if (flags.json) io.out(JSON.stringify(r));
      else {
        io.out(`format:          ${r.format}`);
        io.out(`virtual size:    ${r.virtualSize} bytes (${(r.virtualSize / 2 ** 30).toFixed(2)} GiB)`);
        io.out(`allocated:       ${r.allocatedBytes} bytes`);
        for (const [k, v] of Object.entries(r.features)) io.out(`${(k + ':').padEnd(16)} ${v}`);
      }
      return EXIT.ok;
    } catch (e) {
      return rejected(io, e);
    } finally {
      await src.close();
    }
  },
};

export const convertCommand: Command = {
  path: ['convert'],
  summary: 'Convert a disk image safely between formats (our own parsers and writers, no qemu-img)',
  usage: 'imagehouse convert IN OUT --format raw|qcow2|vhd|vhd-fixed|vmdk [--from FORMAT]\n\nExample:\n  imagehouse convert disk.vmdk disk.qcow2 --format qcow2',
  async run({ flags, rest }, io) {
    const [input, output] = rest;
    if (!input || !output || typeof flags.format !== 'string') { io.err('convert: IN, OUT and --format are required'); return EXIT.usage; }
    const format = OUTPUT_FORMATS[flags.format.toLowerCase()];
    if (!format) { io.err(`convert: unknown output format "${flags.format}" (one of ${Object.keys(OUTPUT_FORMATS).join(', ')})`); return EXIT.usage; }
    if (!fs.existsSync(input)) { io.err(`convert: ${input}: no such file`); return EXIT.notFound; }
    const src = await openFileSource(input);
    try {
      const inspection = await inspect(src, { declared: declared(flags.from) });
      const disk = await readerDisk(await openReader(src, inspection));
      const { bytes } = await writeExportFile(disk, format, output);
      io.err(`converted ${inspection.format} → ${format}: ${inspection.virtualSize} bytes virtual, ${bytes} bytes written to ${output}`);
      return EXIT.ok;
    } catch (e) {
      return rejected(io, e);
    } finally {
      await src.close();
    }
  },
};
