/** Small valid images of every importable format: what the fuzz suite damages. Built once, in memory. */
import { isoImage, vmwareStreamVmdk } from '../hand-built.ts';
import { qcow2Image, sampleDisk, vhdDynamicImage, vhdFixedImage, vhdxImage, vmdkSparseImage } from '../small-images.ts';
import type { Resign } from './mutations.ts';

export interface Seed {
  name: string;
  /** The format the reader must detect in the undamaged file. */
  format: string;
  file: Buffer;
  resign: Resign;
}

const KiB = 1024;

export function fuzzSeeds(): Seed[] {
  const small = sampleDisk(64 * KiB);
  const vhdxDisk = sampleDisk(1024 * KiB + 64 * KiB);
  return [
    { name: 'qcow2', format: 'qcow2', file: qcow2Image(small, { clusterBits: 9 }), resign: 'none' },
    { name: 'qcow2 4 KiB clusters', format: 'qcow2', file: qcow2Image(small), resign: 'none' },
    { name: 'qcow2 compressed', format: 'qcow2', file: qcow2Image(small, { compressed: true }), resign: 'none' },
    { name: 'qcow2 extended L2', format: 'qcow2', file: qcow2Image(small, { clusterBits: 14, extendedL2: true }), resign: 'none' },
    { name: 'VHD dynamic', format: 'vhd', file: vhdDynamicImage(small, 4 * KiB), resign: 'vhd' },
    { name: 'VHD fixed', format: 'vhd', file: vhdFixedImage(small), resign: 'vhd' },
    { name: 'VHDX', format: 'vhdx', file: vhdxImage(vhdxDisk), resign: 'vhdx' },
    { name: 'VMDK monolithicSparse', format: 'vmdk', file: vmdkSparseImage(small), resign: 'none' },
    { name: 'VMDK streamOptimized', format: 'vmdk', file: vmwareStreamVmdk(small), resign: 'none' },
    { name: 'ISO', format: 'iso', file: isoImage(20), resign: 'none' },
    { name: 'raw', format: 'raw', file: small, resign: 'none' },
  ];
}

/** Magic numbers put in front of random bytes, so random input reaches each parser and not only detection. */
export const MAGICS: [string, Buffer][] = [
  ['nothing', Buffer.alloc(0)],
  ['qcow2 v3 magic', Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3])],
  ['qcow2 v2 magic', Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 2])],
  ['VHD cookie', Buffer.from('conectix', 'latin1')],
  ['VHDX signature', Buffer.from('vhdxfile', 'latin1')],
  ['VMDK sparse magic', Buffer.from('KDMV', 'latin1')],
  ['VMDK COWD magic', Buffer.from('COWD', 'latin1')],
  ['VMDK descriptor', Buffer.from('# Disk DescriptorFile\nversion=1\n', 'latin1')],
];
