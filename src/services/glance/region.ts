import type { Services } from '../context.ts';

/**
 * The region the OpenStack surfaces work in: Glance images are ECS images of this region, and the Keystone
 * catalog names it as the endpoints' region. The first configured region.
 */
export function openstackRegion(services: Pick<Services, 'regions'>): string {
  return services.regions.all[0].id;
}
