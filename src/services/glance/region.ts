import type { Services } from '../context.ts';

/**
 * The region the OpenStack surfaces work in: Glance images are ECS images of this region, and the Keystone
 * catalog names it as the endpoints' region. The first configured region.
 */
export function openstackRegion(services: Pick<Services, 'regions'>): string {
  return services.regions.all[0].id;
}

/** The interfaces each catalog endpoint is listed under. */
export const ENDPOINT_INTERFACES = ['public', 'internal', 'admin'] as const;

/** Whether the Keystone catalog lists an image endpoint in `region` with `iface` (glance-download's lookup). */
export function hasImageEndpoint(services: Pick<Services, 'regions'>, region: string, iface: string): boolean {
  return region === openstackRegion(services) && (ENDPOINT_INTERFACES as readonly string[]).includes(iface);
}
