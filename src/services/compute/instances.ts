/**
 * Instances (never executed) and the disks they are launched with: RunInstances / CreateInstance,
 * StartInstance / StopInstance (immediate), DeleteInstance.
 */
import type { DiskRow, InstanceRow } from '../../store/schema.ts';
import { isResourceName } from '../../domain/text.ts';
import { apiError } from '../../domain/errors.ts';
import { newResourceId } from '../../domain/ids.ts';
import type { Tag } from '../../domain/image-rules.ts';
import type { Services } from '../context.ts';
import { assertDiskSourceImage, assertLaunchable, assertTypeRunsImage, requireInstanceType, resolveLaunchImage } from './launch-rules.ts';
import { holdPreparedIn, imageDiskSources, prepareManifests, releaseFresh, type PreparedManifest } from './clone.ts';
import { DEFAULT_CATEGORY, GIB, dataDiskSize, systemDiskSize } from './disk-rules.ts';
import { deleteDisksIn } from './disks.ts';
import { requireOwnSnapshot } from '../snapshots/lookup.ts';
import { closeSeatsIn, openSeatsIn } from '../billing/lifecycle.ts';
import { bootInstance, haltInstance } from './vms.ts';
import { cooperative } from '../../domain/cooperate.ts';

export interface DataDiskInput {
  size?: number;
  snapshotId?: string;
  /** A data disk image (its one disk) instead of a snapshot. */
  imageId?: string;
  category?: string;
  performanceLevel?: string;
  deleteWithInstance?: boolean;
  device?: string;
  name?: string;
}

export interface LaunchInput {
  region: string;
  accountId: string;
  zoneId?: string;
  imageId?: string;
  imageFamily?: string;
  instanceType: string;
  amount: number;
  /** RunInstances starts instances; CreateInstance leaves them Stopped. */
  status: 'Running' | 'Stopped';
  name?: string;
  chargeType?: string;
  systemDisk: { category?: string; performanceLevel?: string; size?: number; name?: string };
  dataDisks: DataDiskInput[];
  tags: Tag[];
  dryRun?: boolean;
}

/** What one disk of each launched instance is made of. */
interface DiskPlan {
  type: 'system' | 'data';
  device: string;
  category: string;
  sizeGib: number;
  name: string;
  deleteWithInstance: boolean;
  sourceSnapshotId: string;
  /** '' = an all-zero disk */
  sourceManifestId: string;
}

export const DATA_DEVICES = Array.from({ length: 25 }, (_, i) => `/dev/xvd${String.fromCharCode(98 + i)}`);
/** Disk rows per insert of a launch: each insert stays a few ms, so the transaction yields the loop often. */
const DISK_ROWS_PER_INSERT = 100;

/** A system disk and at most 16 data disks. */
export const MAX_DISKS_PER_INSTANCE = 17;

/** The zone a new instance or disk goes to: the one asked for (it must be the region's), else the region's first. */
export function zoneOf(region: { id: string; zones: readonly string[] }, zoneId: string | undefined): string {
  if (zoneId && !region.zones.includes(zoneId)) throw apiError('InvalidZoneId.NotFound');
  return zoneId ?? region.zones[0] ?? `${region.id}-a`;
}

function checkInstanceName(name: string): void {
  if (!isResourceName(name)) throw apiError('InvalidInstanceName.Malformed');
}

/** An empty disk name means none given (the disk is shown with an empty name, as on Alibaba). */
function checkDiskNames(input: LaunchInput): void {
  for (const name of [input.systemDisk.name, ...input.dataDisks.map((d) => d.name)]) {
    if (name !== undefined && name !== '' && !isResourceName(name)) throw apiError('InvalidDiskName.Malformed');
  }
}

async function planDisks(services: Services, input: LaunchInput, image: Awaited<ReturnType<typeof resolveLaunchImage>>): Promise<DiskPlan[]> {
  const sources = await imageDiskSources(services, image);
  const system = sources.find((s) => s.type === 'system');
  const sd = input.systemDisk;
  const category = sd.category ?? DEFAULT_CATEGORY;
  const plans: DiskPlan[] = [{
    type: 'system', device: '/dev/xvda', category, name: sd.name ?? '', deleteWithInstance: true, sourceSnapshotId: '',
    sizeGib: systemDiskSize({ category, performanceLevel: sd.performanceLevel, size: sd.size, imageGib: image.row.size_gib, osType: image.row.os_type }),
    sourceManifestId: system?.snapshot?.manifest_id ?? '',
  }];
  const overrides = new Map(input.dataDisks.filter((d) => d.device).map((d) => [d.device!, d]));
  for (const s of sources.filter((x) => x.type === 'data')) {
    const o = overrides.get(s.device);
    overrides.delete(s.device);
    const c = o?.category ?? DEFAULT_CATEGORY;
    plans.push({
      type: 'data', device: s.device, category: c, name: o?.name ?? '', deleteWithInstance: o?.deleteWithInstance ?? true,
      sizeGib: dataDiskSize(c, o?.performanceLevel, o?.size, s.sizeGib),
      sourceSnapshotId: s.snapshot?.id ?? '', sourceManifestId: s.snapshot?.manifest_id ?? '',
    });
  }
  if (overrides.size) throw apiError('InvalidParameter', 'DataDisk.n.Device');
  for (const d of input.dataDisks.filter((x) => !x.device)) {
    const c = d.category ?? DEFAULT_CATEGORY;
    if (d.snapshotId && d.imageId) throw apiError('InvalidParameter', 'DataDisk.n.ImageId');
    const snap = d.snapshotId ? await requireOwnSnapshot(services, d.snapshotId, input.accountId, input.region)
      : d.imageId ? (await imageDiskSources(services, await assertDiskSourceImage(services, input.region, input.accountId, d.imageId)))[0]?.snapshot : undefined;
    if (snap && snap.status !== 'accomplished') throw apiError('InvalidSnapshotId.NotReady');
    const device = DATA_DEVICES.find((x) => !plans.some((p) => p.device === x));
    if (!device) throw apiError('InvalidParameter', 'DataDisk');
    plans.push({
      type: 'data', device, category: c, name: d.name ?? '', deleteWithInstance: d.deleteWithInstance ?? true,
      sizeGib: dataDiskSize(c, d.performanceLevel, d.size, snap?.source_disk_size_gib),
      sourceSnapshotId: snap?.id ?? '', sourceManifestId: snap?.manifest_id ?? '',
    });
  }
  if (plans.length > MAX_DISKS_PER_INSTANCE) throw apiError('InvalidParameter', 'DataDisk');
  return plans;
}

/**
 * Creates `amount` instances, each with copy-on-write clones of the image's disks plus the requested data
 * disks. One of the account's limited concurrent heavy requests (Throttling.User beyond them).
 */
export function launchInstances(services: Services, input: LaunchInput): Promise<string[]> {
  return services.work.run(input.accountId, () => launch(services, input));
}

async function launch(services: Services, input: LaunchInput): Promise<string[]> {
  const region = services.regions.require(input.region);
  const zone = zoneOf(region, input.zoneId);
  const type = requireInstanceType(services, region.id, input.instanceType);
  if (input.name !== undefined) checkInstanceName(input.name);
  checkDiskNames(input);
  const image = await resolveLaunchImage(services, region.id, input.accountId, { imageId: input.imageId, imageFamily: input.imageFamily });
  await assertLaunchable(services, image, input.accountId);
  assertTypeRunsImage(type, image);
  const plans = await planDisks(services, input, image);
  if (input.dryRun) throw apiError('DryRunOperation');

  const now = services.clock.now();
  const ids: string[] = [];
  // Every disk of every instance, in order: instance n's disks are [n × plans.length, (n + 1) × plans.length).
  const prepared: PreparedManifest[] = await prepareManifests(services, region.id,
    Array.from({ length: input.amount * plans.length }, (_, k) => ({ sourceManifestId: plans[k % plans.length].sourceManifestId, bytes: plans[k % plans.length].sizeGib * GIB })));
  try {
    const rows: { instance: InstanceRow; disks: DiskRow[] }[] = [];
    for (let n = 0; n < input.amount; n++) {
      const id = newResourceId('instance', region.infix);
      ids.push(id);
      const instance: InstanceRow = {
        id, region: region.id, zone, owner_id: input.accountId, name: input.name ?? id, instance_type: type.InstanceTypeId,
        status: input.status, image_id: image.row.id, charge_type: input.chargeType ?? 'PostPaid', created_at: now + n, updated_at: now,
        os_name: image.row.os_name, os_name_en: image.row.os_name_en, os_type: image.row.os_type,
      };
      const disks: DiskRow[] = [];
      for (const [j, p] of plans.entries()) {
        const m = prepared[n * plans.length + j];
        disks.push({
          id: newResourceId('disk', region.infix), region: region.id, zone, owner_id: input.accountId, instance_id: id, name: p.name,
          type: p.type, category: p.category, size_gib: p.sizeGib, device: p.device, status: 'In_use',
          source_image_id: p.type === 'system' ? image.row.id : '', source_image_owner_id: p.type === 'system' ? image.row.owner_id : '',
          source_snapshot_id: p.sourceSnapshotId, manifest_id: m.id, version: 0, delete_with_instance: p.deleteWithInstance ? 1 : 0,
          created_at: now + n, updated_at: now,
        });
      }
      rows.push({ instance, disks });
    }
    // Multi-row inserts: a launch of 100 instances with 17 disks each is a handful of statements.
    const disks = rows.flatMap((r) => r.disks);
    // On SQLite the transaction holds the one connection, so yielding inside it only lets other requests
    // parse and queue; it keeps the event loop from stalling for the whole transaction.
    const pause = cooperative();
    await services.db.transaction().execute(async (trx) => {
      await holdPreparedIn(trx, prepared);
      await trx.insertInto('instances').values(rows.map((r) => r.instance)).execute();
      for (let i = 0; i < disks.length; i += DISK_ROWS_PER_INSERT) {
        await pause();
        await trx.insertInto('disks').values(disks.slice(i, i + DISK_ROWS_PER_INSERT)).execute();
      }
      await pause();
      await openSeatsIn(trx, disks.filter((d) => d.type === 'system').map((d) => ({
        diskId: d.id, instanceId: d.instance_id, accountId: input.accountId, region: region.id, image: image.row, vcpu: type.CpuCoreCount, at: d.created_at,
      })));
      if (input.tags.length) {
        await trx.insertInto('tags').values(rows.flatMap((r) => input.tags.map((t) => ({ resource_id: r.instance.id, resource_type: 'instance', tag_key: t.key, tag_value: t.value })))).execute();
      }
    });
  } catch (e) {
    await releaseFresh(services, prepared);
    throw e;
  }
  if (input.status === 'Running') for (const id of ids) await bootInstance(services, id);
  return ids;
}

/** The caller's instance (its region comes from the ID, or from RegionId when given), or InvalidInstanceId.NotFound. */
export async function requireOwnInstance(services: Services, instanceId: string, accountId: string): Promise<InstanceRow> {
  const region = services.regions.ofResourceId(instanceId);
  const row = region
    ? await services.db.selectFrom('instances').selectAll().where('id', '=', instanceId).where('region', '=', region.id).where('owner_id', '=', accountId).executeTakeFirst()
    : undefined;
  if (!row) throw apiError('InvalidInstanceId.NotFound');
  return row;
}

/** Start (Stopped → Running) or stop (Running → Stopped); anything else is IncorrectInstanceStatus. */
export async function changeInstanceStatus(services: Services, instanceId: string, accountId: string, to: 'Running' | 'Stopped', dryRun?: boolean): Promise<void> {
  const from = to === 'Running' ? 'Stopped' : 'Running';
  const row = await requireOwnInstance(services, instanceId, accountId);
  if (row.status !== from) throw apiError('IncorrectInstanceStatus');
  if (dryRun) throw apiError('DryRunOperation');
  const res = await services.db.updateTable('instances').set({ status: to, stop_reason: '', updated_at: services.clock.now() })
    .where('id', '=', row.id).where('status', '=', from).executeTakeFirst();
  if (Number(res.numUpdatedRows) !== 1) throw apiError('IncorrectInstanceStatus');
  // Marked Stopped first, so the VM's own end (which stops a Running instance) has nothing left to change.
  if (to === 'Running') await bootInstance(services, row.id);
  else await haltInstance(services, row.id);
}

/** Throws IncorrectInstanceStatus unless the instance is Stopped (operations that rewrite its disks). */
export function assertStopped(instance: Pick<InstanceRow, 'status'>): void {
  if (instance.status !== 'Stopped') throw apiError('IncorrectInstanceStatus');
}

/**
 * Releases the instance: disks with DeleteWithInstance go (their manifests' holds dropped), the others stay
 * as Available disks. A Running instance needs `force`.
 */
export async function deleteInstance(services: Services, instanceId: string, accountId: string, opts: { force?: boolean; dryRun?: boolean } = {}): Promise<void> {
  const row = await requireOwnInstance(services, instanceId, accountId);
  if (!opts.force) assertStopped(row);
  if (opts.dryRun) throw apiError('DryRunOperation');
  await haltInstance(services, row.id);
  const now = services.clock.now();
  await services.db.transaction().execute(async (trx) => {
    const gone = await trx.deleteFrom('instances').where('id', '=', row.id).executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) throw apiError('InvalidInstanceId.NotFound');
    await closeSeatsIn(trx, { instanceId: row.id }, now);
    await trx.deleteFrom('tags').where('resource_id', '=', row.id).execute();
    await trx.deleteFrom('instance_consoles').where('instance_id', '=', row.id).execute();
    const disks = await trx.selectFrom('disks').selectAll().where('instance_id', '=', row.id).execute();
    await deleteDisksIn(trx, disks.filter((d) => d.delete_with_instance === 1), now);
    await trx.updateTable('disks').set({ instance_id: '', status: 'Available', updated_at: now })
      .where('instance_id', '=', row.id).execute();
  });
}
