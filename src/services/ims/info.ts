/** IMS's quota and OS version list. */
import type { Services } from '../context.ts';
import type { Identity } from '../identity/tokens.ts';
import { openstackRegion } from '../glance/region.ts';
import { PLATFORMS } from '../transfer/import.ts';

export async function imageQuota(services: Pick<Services, 'db' | 'regions' | 'limits'>, viewer: Identity) {
  const { n } = await services.db.selectFrom('images').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('region', '=', openstackRegion(services)).where('owner_id', '=', viewer.id).where('category', '=', 'self').executeTakeFirstOrThrow();
  return { type: 'image', used: Number(n), quota: services.limits.imageQuota, min: 1, max: services.limits.imageQuota };
}

/** The platforms an import accepts, in IMS's `os_version` list shape. */
export function osVersions(): { platform: string; version_list: Record<string, string>[] }[] {
  return PLATFORMS.map((platform) => {
    const osType = platform.includes('Windows') ? 'Windows' : 'Linux';
    const osVersion = `${platform} 64bit`;
    return { platform, version_list: [{ platform, os_version_key: osVersion, os_version: osVersion, os_bit: '64', os_type: osType }] };
  });
}
