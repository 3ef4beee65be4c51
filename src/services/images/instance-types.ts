import type { InstanceType } from '../../domain/catalog/index.ts';
import type { ImageRow } from '../../store/schema.ts';

/** ARM types run arm64 images; x86 types run x86_64, and i386 only below 4 GiB of memory. */
export function typeRunsImage(t: InstanceType, image: Pick<ImageRow, 'architecture'>): boolean {
  if (t.CpuArchitecture === 'ARM') return image.architecture === 'arm64';
  if (image.architecture === 'i386') return t.MemorySize < 4;
  return image.architecture === 'x86_64';
}

/** The architectures an instance type runs (DescribeImages' InstanceType filter). */
export function architecturesOf(t: InstanceType): string[] {
  return ['x86_64', 'arm64', 'i386'].filter((architecture) => typeRunsImage(t, { architecture }));
}
