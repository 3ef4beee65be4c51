/**
 * Import throughput: a qcow2 (4 GiB virtual, 1 GiB of random data as 64 × 16 MiB extents, made by
 * `qemu-img convert -O qcow2`) imported into a fresh FsChunkStore + SQLite chunk index, durable (the store
 * is flushed and the manifest committed), against the anchor `qemu-img convert -O raw -t writeback` of the
 * same file (durable too: one fdatasync at close). Then a re-import into the same store, where every chunk
 * already exists. Prints medians, the ratios ours/qemu-img (< 1 is faster), and our peak RSS.
 *
 * Env: IMPORT_BENCH_VIRTUAL_MIB (default 4096), IMPORT_BENCH_DATA_MIB (default 1024, in 64 equal extents),
 *      IMPORT_BENCH_RUNS (default 3, median of interleaved runs), IMPORT_BENCH_DIR (default the OS temp dir),
 *      IMPORT_BENCH_DURABILITY (background | batched | eager | all; default background: FsChunkStore's modes),
 *      IMPORT_BENCH_IN_FLIGHT (importer maxInFlight, default the importer's),
 *      IMPORT_BENCH_DROP_CACHES=1 (root: drop the page cache before each timed run, as the spec's figures).
 * Quick run: IMPORT_BENCH_VIRTUAL_MIB=512 IMPORT_BENCH_DATA_MIB=128 IMPORT_BENCH_RUNS=1 node --import tsx bench/import.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect, openFileSource, openReader } from '../src/formats/index.ts';
import { openStore } from '../src/store/db.ts';
import { FsChunkStore, type FsDurability } from '../src/blobs/fs-store.ts';
import { KyselyChunkIndex } from '../src/blobs/chunk-index.ts';
import { ManifestRepo } from '../src/blobs/manifests.ts';
import { HashPool } from '../src/blobs/hash-pool.ts';
import { importDiskWithStats, type ImportStats } from '../src/blobs/importer.ts';
import { ChunkBufferPool } from '../src/formats/buffer-pool.ts';
import { buildSparseRaw, median, printTable, dropCaches } from './support.ts';

const MiB = 1024 * 1024;
const VIRTUAL = Number(process.env.IMPORT_BENCH_VIRTUAL_MIB ?? 4096) * MiB;
const DATA = Number(process.env.IMPORT_BENCH_DATA_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.IMPORT_BENCH_RUNS ?? 3);
const DROP_CACHES = process.env.IMPORT_BENCH_DROP_CACHES === '1';
const DURABILITY = process.env.IMPORT_BENCH_DURABILITY ?? 'background';
const MODES: FsDurability[] = DURABILITY === 'all' ? ['background', 'batched', 'eager'] : [DURABILITY as FsDurability];
const IN_FLIGHT = process.env.IMPORT_BENCH_IN_FLIGHT ? Number(process.env.IMPORT_BENCH_IN_FLIGHT) : undefined;
const EXTENTS = 64;
const REGION = 'bench';

const dir = fs.mkdtempSync(path.join(process.env.IMPORT_BENCH_DIR ?? os.tmpdir(), 'ih-bench-import-'));
try {
  await main();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const raw = path.join(dir, 'in.raw');
  const image = path.join(dir, 'in.qcow2');
  let t = performance.now();
  buildSparseRaw(raw, VIRTUAL, DATA, EXTENTS);
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, image]);
  fs.rmSync(raw);
  console.log(`input: qcow2, ${VIRTUAL / MiB} MiB virtual, ${DATA / MiB} MiB random data in ${EXTENTS} extents (built in ${secs(t)} s)`);
  console.log(`runs: ${RUNS} (median), page cache ${DROP_CACHES ? 'dropped before each run' : 'warm'}, both sides durable\n`);

  const hashPool = new HashPool();
  const results: Record<string, number[]> = { qemu: [] };
  // CPU seconds (user + sys, all threads) tell more than wall time when other work shares the 2 cores.
  const cpu: Record<string, number[]> = { qemu: [] };
  let lastStats: Record<string, ImportStats> = {};
  for (let run = 0; run < RUNS; run++) {
    const out = path.join(dir, 'out.raw');
    dropCaches(DROP_CACHES);
    t = performance.now();
    cpu.qemu.push(runTimed('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '-t', 'writeback', image, out]));
    results.qemu.push(secs(t));
    fs.rmSync(out);

    for (const mode of MODES) {
      const root = path.join(dir, `run-${run}-${mode}`);
      const meta = await openStore({ sqlitePath: path.join(root, 'meta.sqlite') });
      const store = new FsChunkStore(path.join(root, 'chunks'), { durability: mode });
      const index = new KyselyChunkIndex(meta.db);
      const repo = new ManifestRepo(meta.db);
      const deps = { store, index, region: REGION, hashPool };
      const buffers = new ChunkBufferPool();
      for (const phase of ['import', 'reimport'] as const) {
        dropCaches(DROP_CACHES);
        t = performance.now();
        const cpu0 = process.cpuUsage();
        const src = await openFileSource(image);
        try {
          const reader = await openReader(src, await inspect(src), { allocate: (n) => buffers.acquire(n), deferReads: true });
          const { manifest, stats } = await importDiskWithStats(reader, deps, { maxInFlight: IN_FLIGHT, buffers });
          await repo.commit(REGION, manifest);
          (results[`${phase} ${mode}`] ??= []).push(secs(t));
          const used = process.cpuUsage(cpu0);
          (cpu[`${phase} ${mode}`] ??= []).push((used.user + used.system) / 1e6);
          lastStats = { ...lastStats, [`${phase} ${mode}`]: stats };
        } finally {
          await src.close();
        }
      }
      await store.close();
      await meta.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  }
  await hashPool.close();

  const qemu = median(results.qemu);
  const cpuCell = (name: string) => (cpu[name].some(Number.isNaN) ? '?' : median(cpu[name]).toFixed(2));
  const rows = [['what', 'median s', 'runs', 'MB/s of data', 'ours/qemu-img', 'cpu s', 'chunks uploaded']];
  rows.push(['qemu-img convert -O raw -t writeback', qemu.toFixed(2), results.qemu.map((x) => x.toFixed(2)).join(' '), mbps(DATA, qemu), '1.00', cpuCell('qemu'), '']);
  for (const [name, times] of Object.entries(results)) {
    if (name === 'qemu') continue;
    const m = median(times);
    rows.push([`ours: ${name} (fs ${name.split(' ')[1]}, sqlite)`, m.toFixed(2), times.map((x) => x.toFixed(2)).join(' '), mbps(DATA, m), (m / qemu).toFixed(2), cpuCell(name), String(lastStats[name]?.uploadedChunks ?? '')]);
  }
  printTable(rows);
  console.log(`\npeak RSS of this process (ours only; qemu-img runs as a child): ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
}


/** Runs a command; returns its CPU seconds when GNU time is installed, NaN otherwise. */
function runTimed(cmd: string, args: string[]): number {
  if (!fs.existsSync('/usr/bin/time')) {
    execFileSync(cmd, args);
    return NaN;
  }
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', cmd, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return user + sys;
}


function secs(t0: number): number {
  return (performance.now() - t0) / 1000;
}


function mbps(bytes: number, s: number): string {
  return String(Math.round(bytes / 1e6 / s));
}

