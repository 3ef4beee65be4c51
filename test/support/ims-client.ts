/**
 * A thin IMS client over the official Huawei Cloud SDK core (`@huaweicloud/huaweicloud-sdk-core`): the IMS
 * service package is not on npm, so requests are built here as the SDK's ImsClient builds them and signed
 * and sent by the core's HcClient (`SDK-HMAC-SHA256`, `X-Sdk-Date`, `X-Project-Id`).
 */
import { createRequire } from 'node:module';
import type { NewAccount } from '../../src/services/accounts.ts';
import { waitFor } from './wait.ts';

const require = createRequire(import.meta.url);
const { BasicCredentials } = require('@huaweicloud/huaweicloud-sdk-core');
const { ClientBuilder } = require('@huaweicloud/huaweicloud-sdk-core/ClientBuilder');

type Any = any;
const QUIET = { debug() {}, info() {}, warn() {}, error() {} };

export interface ImsRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** With `{project_id}` and other `{name}`s filled from pathParams (project_id from the credentials). */
  url: string;
  pathParams?: Record<string, string>;
  queryParams?: Record<string, string | string[]>;
  data?: unknown;
  contentType?: string;
  /** Extra headers, signed with the others (negative tests). */
  headers?: Record<string, string>;
}

/** What HcClient puts on the wire for a request: the URL, method, headers (signed) and body. */
export interface SignedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export class ImsClient {
  constructor(readonly hc: Any) {}

  static for(hostPort: string, account: Pick<NewAccount, 'accessKeyId' | 'accessKeySecret' | 'accountId'>, opts: { projectId?: string; secret?: string } = {}): ImsClient {
    const credentials = new BasicCredentials().withAk(account.accessKeyId).withSk(opts.secret ?? account.accessKeySecret).withProjectId(opts.projectId ?? account.accountId);
    const client: ImsClient = new ClientBuilder((hc: Any) => new ImsClient(hc)).withCredential(credentials).withEndpoint(`http://${hostPort}`).build();
    // The SDK logs every refused call at ERROR on stdout; the tests assert on the exceptions instead.
    client.hc.httpClient._logger = QUIET;
    return client;
  }

  private options(r: ImsRequest): Any {
    return {
      method: r.method, url: r.url, pathParams: { ...(r.pathParams ?? {}) }, queryParams: r.queryParams ?? {}, headers: { ...(r.headers ?? {}) },
      ...(r.data !== undefined ? { data: r.data } : {}), contentType: r.contentType ?? 'application/json',
    };
  }

  /** Sends through HcClient; resolves to the JSON body (plus httpStatusCode), rejects with the SDK's exception. */
  send(r: ImsRequest): Promise<Any> {
    return this.hc.sendRequest(this.options(r));
  }

  /** Signs as HcClient would, without sending (negative tests tamper with the result and send it with fetch). */
  async sign(r: ImsRequest): Promise<SignedRequest> {
    const req = await this.hc.buildRequest(this.options(r));
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(req.queryParams ?? {})) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers as Record<string, unknown>)) headers[k] = String(v);
    return {
      url: `${req.endpoint}${qs.size ? `?${qs}` : ''}`, method: req.method, headers,
      ...(req.data !== undefined ? { body: JSON.stringify(req.data) } : {}),
    };
  }

  // The IMS operations the tests use, as the SDK's ImsClient names and shapes them.
  listImages(query: Record<string, string | string[]> = {}) { return this.send({ method: 'GET', url: '/v2/cloudimages', queryParams: query }); }
  showJob(jobId: string) { return this.send({ method: 'GET', url: '/v1/{project_id}/jobs/{job_id}', pathParams: { job_id: jobId } }); }
  createImage(body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v2/cloudimages/action', data: body }); }
  createWholeImage(body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v1/cloudimages/wholeimages/action', data: body }); }
  createDataImage(body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v1/cloudimages/dataimages/action', data: body }); }
  importImageQuick(body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v2/cloudimages/quickimport/action', data: body }); }
  updateImage(imageId: string, ops: { op: string; path: string; value?: unknown }[]) {
    return this.send({ method: 'PATCH', url: '/v2/cloudimages/{image_id}', pathParams: { image_id: imageId }, data: ops });
  }
  copyImageInRegion(imageId: string, body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v1/cloudimages/{image_id}/copy', pathParams: { image_id: imageId }, data: body }); }
  copyImageCrossRegion(imageId: string, body: Record<string, unknown>) {
    return this.send({ method: 'POST', url: '/v1/cloudimages/{image_id}/cross_region_copy', pathParams: { image_id: imageId }, data: body });
  }
  exportImage(imageId: string, body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v1/cloudimages/{image_id}/file', pathParams: { image_id: imageId }, data: body }); }
  batchAddMembers(body: { images: string[]; projects: string[] }) { return this.send({ method: 'POST', url: '/v1/cloudimages/members', data: body }); }
  batchUpdateMembers(body: { images: string[]; project_id: string; status: string }) { return this.send({ method: 'PUT', url: '/v1/cloudimages/members', data: body }); }
  batchDeleteMembers(body: { images: string[]; projects: string[] }) { return this.send({ method: 'DELETE', url: '/v1/cloudimages/members', data: body }); }
  listMembers(imageId: string) { return this.send({ method: 'GET', url: '/v1/{project_id}/cloudimages/{image_id}/members', pathParams: { image_id: imageId } }); }
  addImageTag(imageId: string, tag: { key: string; value: string }) {
    return this.send({ method: 'POST', url: '/v2/{project_id}/images/{image_id}/tags', pathParams: { image_id: imageId }, data: { tag } });
  }
  batchAddOrDeleteTags(imageId: string, body: { action: 'create' | 'delete'; tags: { key: string; value?: string }[] }) {
    return this.send({ method: 'POST', url: '/v2/{project_id}/images/{image_id}/tags/action', pathParams: { image_id: imageId }, data: body });
  }
  listImageTags(imageId: string) { return this.send({ method: 'GET', url: '/v2/{project_id}/images/{image_id}/tags', pathParams: { image_id: imageId } }); }
  listImagesTags() { return this.send({ method: 'GET', url: '/v2/{project_id}/images/tags' }); }
  deleteImageTag(imageId: string, key: string) {
    return this.send({ method: 'DELETE', url: '/v2/{project_id}/images/{image_id}/tags/{key}', pathParams: { image_id: imageId, key } });
  }
  listImageByTags(body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v2/{project_id}/images/resource_instances/action', data: body }); }
  registerImage(imageId: string, body: { image_url: string }) {
    return this.send({ method: 'PUT', url: '/v1/cloudimages/{image_id}/upload', pathParams: { image_id: imageId }, data: body });
  }
  // The Glance* operations at the IMS endpoint.
  glanceCreateImageMetadata(body: Record<string, unknown>) { return this.send({ method: 'POST', url: '/v2/images', data: body }); }
  glanceListImages(query: Record<string, string> = {}) { return this.send({ method: 'GET', url: '/v2/images', queryParams: query }); }
  glanceShowImage(imageId: string) { return this.send({ method: 'GET', url: '/v2/images/{image_id}', pathParams: { image_id: imageId } }); }
  glanceUpdateImage(imageId: string, ops: { op: string; path: string; value?: unknown }[]) {
    return this.send({ method: 'PATCH', url: '/v2/images/{image_id}', pathParams: { image_id: imageId }, data: ops, contentType: 'application/openstack-images-v2.1-json-patch' });
  }
  glanceDeleteImage(imageId: string, body: Record<string, unknown> = {}) { return this.send({ method: 'DELETE', url: '/v2/images/{image_id}', pathParams: { image_id: imageId }, data: body }); }
  glanceCreateTag(imageId: string, tag: string) { return this.send({ method: 'PUT', url: '/v2/images/{image_id}/tags/{tag}', pathParams: { image_id: imageId, tag } }); }
  glanceDeleteTag(imageId: string, tag: string) { return this.send({ method: 'DELETE', url: '/v2/images/{image_id}/tags/{tag}', pathParams: { image_id: imageId, tag } }); }
  glanceSchema(name: 'image' | 'images' | 'member' | 'members') { return this.send({ method: 'GET', url: `/v2/schemas/${name}` }); }
  showQuota() { return this.send({ method: 'GET', url: '/v1/cloudimages/quota' }); }
  listOsVersions() { return this.send({ method: 'GET', url: '/v1/cloudimages/os_version' }); }
}

/** Polls a job until it ends; returns its final view. */
export function waitForJob(ims: ImsClient, jobId: string): Promise<Any> {
  return waitFor(async () => {
    const job = await ims.showJob(jobId);
    return job.status === 'SUCCESS' || job.status === 'FAIL' ? job : undefined;
  }, { what: `IMS job ${jobId}` });
}

/** Runs `fn` expecting the SDK to throw; returns its ClientRequestException (httpStatusCode, errorCode, errorMsg). */
export async function imsError(fn: () => Promise<unknown>): Promise<{ httpStatusCode: number; errorCode: string; errorMsg: string }> {
  try {
    await fn();
  } catch (e) {
    return e as Any;
  }
  throw new Error('expected the IMS call to fail');
}
