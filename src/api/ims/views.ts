/** IMS wire shapes: the image (ImageInfo), the job, the member. */
import { imageKindOf } from '../../domain/image-kinds.ts';
import type { GlanceImage } from '../../services/glance/images.ts';
import type { Member } from '../../services/glance/members.ts';
import type { Identity } from '../../services/identity/tokens.ts';
import { imsImageType, imsOsType, imsVisibility, virtualEnvType } from '../../services/ims/list.ts';
import { IMS_JOB_TYPES, type ImsJob, type ImsJobPart, type ImsJobStatus } from '../../services/ims/jobs.ts';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function imsImageView(img: GlanceImage, viewer: Identity): Record<string, unknown> {
  const r = img.row;
  const type = imsImageType(img, viewer);
  const kind = imageKindOf(r.image_kind);
  return {
    ...img.properties,
    id: img.id, name: img.name ?? '', status: img.status, visibility: imsVisibility(type), owner: img.owner, protected: img.protected,
    min_disk: img.min_disk, min_ram: img.min_ram, disk_format: img.disk_format ?? 'zvhd2', container_format: img.container_format ?? 'bare',
    size: img.size ?? 0, virtual_size: img.virtual_size ?? 0, checksum: img.checksum ?? '', tags: img.tags,
    created_at: iso(img.created_at), updated_at: iso(img.updated_at), self: `/v2/images/${img.id}`, file: `/v2/images/${img.id}/file`, schema: '/v2/schemas/image',
    __imagetype: type, __whole_image: String(kind === 'whole'), virtual_env_type: virtualEnvType(img), __isregistered: 'true',
    __os_type: imsOsType(r.os_type), __platform: r.platform, __os_version: r.os_name_en || img.properties.__os_version || '', __os_bit: r.architecture === 'i386' ? '32' : '64',
    __description: r.description, __image_source_type: 'uds', __image_size: String(img.size ?? r.size_gib * 1024 ** 3),
    __system__cmkid: r.kms_key_id || undefined, __data_origin: r.source_kind && r.source_id ? `${r.source_kind},${r.source_id}` : undefined,
    __productcode: r.product_code || undefined, __support_kvm: 'true', architecture: r.architecture === 'arm64' ? 'arm' : 'x86',
  };
}

/** The times, status and failure of a job or sub job (the SDK's ShowJobResponse and SubJobResult). */
function jobHead(part: ImsJobPart, status: ImsJobStatus) {
  const { job } = part;
  return {
    job_id: job.id, job_type: IMS_JOB_TYPES[job.kind] ?? job.kind, status,
    begin_time: iso(Number(job.created_at)), end_time: job.finished_at === null ? '' : iso(Number(job.finished_at)),
    error_code: status === 'FAIL' ? job.error_code || 'IMG.0001' : null, fail_reason: status === 'FAIL' ? job.error_message || 'a sub job failed' : null,
  };
}

export function imsJobView(j: ImsJob): Record<string, unknown> {
  const result = JSON.parse(j.job.result || '{}') as Record<string, unknown>;
  const subs = j.subJobs.length ? {
    sub_jobs_list: j.subJobs.map((s) => s.job.id),
    sub_jobs_result: j.subJobs.map((s) => ({ ...jobHead(s, s.status), entities: { image_id: s.job.resource_id, image_name: s.imageName } })),
  } : {};
  return {
    ...jobHead(j, j.status),
    entities: {
      image_id: j.job.resource_id, ...(j.imageName ? { image_name: j.imageName } : {}),
      process_percent: j.status === 'SUCCESS' ? 1 : Number(j.job.progress) / 100, ...(result.results ? { results: result.results } : {}), ...subs,
    },
  };
}

export function imsMemberView(m: Member): Record<string, unknown> {
  return { image_id: m.image_id, member_id: m.member_id, status: m.status, created_at: iso(m.created_at), updated_at: iso(m.updated_at), schema: '/v2/schemas/member', member_type: 'project' };
}
