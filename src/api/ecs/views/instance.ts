import type { InstanceView } from '../../../services/compute/describe.ts';
import { isoSeconds } from './time.ts';
import { tagsToWire } from './tags.ts';

/** An instance as DescribeInstances shows it. */
export function instanceToWire(v: InstanceView): Record<string, unknown> {
  const r = v.row;
  return {
    InstanceId: r.id,
    InstanceName: r.name,
    Description: '',
    RegionId: r.region,
    ZoneId: r.zone,
    InstanceType: r.instance_type,
    InstanceTypeFamily: v.family,
    Cpu: v.cpu,
    Memory: v.memoryGib * 1024,
    ImageId: r.image_id,
    OSName: r.os_name ?? '',
    OSNameEn: r.os_name_en ?? '',
    OSType: r.os_type ?? '',
    Status: r.status,
    CreationTime: isoSeconds(r.created_at),
    InstanceChargeType: r.charge_type,
    InternetChargeType: 'PayByTraffic',
    InstanceNetworkType: 'vpc',
    IoOptimized: true,
    StoppedMode: r.status === 'Stopped' ? 'KeepCharging' : 'Not-applicable',
    OperationLocks: { LockReason: [] },
    // imagehouse's own field: why the instance's VM last ended by itself ('' when it did not).
    StopReason: r.stop_reason ?? '',
    ImageOptions: { LoginAsNonRoot: false },
    Tags: tagsToWire(v.tags),
  };
}
