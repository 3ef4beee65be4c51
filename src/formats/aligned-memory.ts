/**
 * 4 MiB buffers whose memory starts on a page boundary, so the chunk store and FileWriter can write them with O_DIRECT.
 * Node's own buffers come from malloc (16 bytes past a page for large sizes) and O_DIRECT refuses them. On
 * this kind of VM a buffered write of a new chunk cost 2–4× its bytes in kernel CPU (copying into freshly
 * faulted page-cache pages: half of an import's CPU in `perf`), while a direct write is a DMA from memory the
 * process already has.
 *
 * The memory is a shared WebAssembly.Memory: V8 maps it page-aligned, and it is a SharedArrayBuffer, so worker
 * threads read it without a copy or a transfer. Each one reserves (not commits) about 10 GiB of address space
 * for V8's guard regions; the pools keep a few dozen at most.
 */
const WASM_PAGE = 64 * 1024;
/** The alignment of offsets, lengths and memory O_DIRECT needs: the disk's logical block (4 KiB covers 512-byte and 4Kn disks). */
export const DIRECT_IO_ALIGN = 4096;

const aligned = new WeakSet<ArrayBufferLike>();
/** The one WebAssembly API used here (the project's TypeScript libs do not declare WebAssembly); absent under --jitless. */
const wasm = (globalThis as unknown as {
  WebAssembly?: { Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer } };
}).WebAssembly;

/**
 * A zero-filled buffer of `length` bytes over page-aligned shared memory of its own. Without WebAssembly, or with
 * no address space left for another reservation, a plain (unaligned, unshared) buffer: written buffered.
 */
export function alignedBuffer(length: number): Buffer {
  const pages = Math.max(1, Math.ceil(length / WASM_PAGE));
  try {
    if (wasm) {
      const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
      aligned.add(memory.buffer);
      return Buffer.from(memory.buffer, 0, length);
    }
  } catch {
    // RangeError: out of address space for another memory
  }
  return Buffer.alloc(length);
}

/** True when `data` can be written or read into with O_DIRECT: aligned memory, offset and length. */
export function directIoReady(data: Buffer): boolean {
  return aligned.has(data.buffer) && data.byteOffset % DIRECT_IO_ALIGN === 0 && data.length % DIRECT_IO_ALIGN === 0 && data.length > 0;
}
