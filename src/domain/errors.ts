/**
 * The one error table: every code the service can answer, with its exact HTTP status and message.
 * Codes and statuses follow the Alibaba Cloud ECS API (typos such as `Forbbiden` are Alibaba's own).
 * `%s` in a message is filled from the arguments given to `apiError`.
 */
export const ERRORS = {
  // gateway
  MissingParameter: [400, 'The input parameter "%s" that is mandatory for processing this request is not supplied.'],
  InvalidParameter: [400, 'The specified parameter "%s" is not valid.'],
  InvalidParamter: [400, 'Invalid Parameter.'],
  'InvalidParameter.Duplicate': [400, 'The parameter "%s" appears more than once.'],
  SignatureDoesNotMatch: [400, 'Specified signature is not matched with our calculation. server string to sign is:%s'],
  IncompleteSignature: [400, 'The request signature does not conform to Aliyun standards.'],
  'InvalidAccessKeyId.NotFound': [404, 'Specified access key is not found.'],
  'InvalidTimeStamp.Expired': [400, 'Specified time stamp or date value is expired.'],
  'InvalidTimeStamp.Format': [400, 'Specified time stamp or date value is not well formatted.'],
  SignatureNonceUsed: [400, 'Specified signature nonce was used already.'],
  'MissingSignatureNonce': [400, 'The input parameter "SignatureNonce" that is mandatory for processing this request is not supplied.'],
  InvalidVersion: [400, 'Specified parameter Version is not valid.'],
  'InvalidAction.NotFound': [404, 'Specified api is not found, please check your url and method.'],
  'UnsupportedSignatureMethod': [400, 'The specified signature method is not supported.'],
  Forbidden: [403, 'User not authorized to operate on the specified resource.'],
  Forbbiden: [403, 'User not authorized to operate on the specified resource.'],
  'Request.HeaderTooLarge': [431, 'The request line and headers exceed %s bytes; send long parameters in an x-www-form-urlencoded POST body.'],
  'Request.BodyTooLarge': [413, 'The request body is too large.'],
  'Request.Malformed': [400, 'The HTTP request is malformed: %s'],
  InternalError: [500, 'The request processing has failed due to some unknown error, exception or failure.'],
  ServiceUnavailable: [503, 'The request has failed due to a temporary failure of the server.'],
  Throttling: [400, 'Request was denied due to request throttling.'],
  'Throttling.User': [400, 'Request was denied due to user flow control.'],
  DryRunOperation: [400, 'Request validation has been passed with DryRun flag set.'],
  'DRYRUN.SUCCESS': [400, 'This request is a dryrun request with successful result.'],
  IdempotentParameterMismatch: [400, 'The specified clientToken is used with different parameters.'],
  'InvalidClientToken.Malformed': [400, 'The specified parameter "ClientToken" is not valid.'],

  // regions
  'InvalidRegionId.NotFound': [404, 'The RegionId provided does not exist.'],
  'InvalidRegionId.MalFormed': [400, 'The specified parameter RegionId is not valid.'],
  'SourceRegion.NotFound': [400, 'The source region not found.'],
  'DestinationRegion.NotFound': [400, 'The destination region not found.'],
  'InvalidZoneId.NotFound': [404, 'The specified zone does not exist.'],

  // images: lookups and filters
  'InvalidImageId.NotFound': [404, 'The specified ImageId does not exist.'],
  'InvalidImageOwnerAlias.ValueNotSupported': [400, 'The specified ImageOwnerAlias value is not supported.'],
  'InvalidImageOwnerAlias.PublicImageUnsupported': [400, 'The specified ImageOwnerAlias must be others when IsPublic is true.'],
  'InvalidTag.Mismatch': [400, 'The specified Tag.n.Key and Tag.n.Value are not match.'],
  InvalidTagCount: [400, 'The specified tags are beyond the permitted range.'],
  'InvalidInstanceType.ValueNotSupported': [400, 'The specified instance type %s does not exist.'],
  'InvalidFilterKey.NotFound': [404, 'The specified Filter Key is not found.'],
  InvalidFilterValue: [404, 'The specified Filter Value is not valid.'],
  InvalidUsage: [404, 'The specified Usage is not valid.'],
  InvalidOSType: [404, 'The specified OSType is not valid.'],
  InvalidArchitecture: [404, 'The specified Architecture is not valid.'],
  'InvalidStatus.ValueNotSupported': [400, 'The specified Status is not valid.'],
  'InvalidActionType.ValueNotSupported': [400, 'The specified ActionType is not valid.'],
  'InvalidOperation.ImageOwnerIdUnsupported': [400, 'The ImageOwnerId parameter is only supported for shared or community images.'],

  // images: attributes and validation
  'InvalidImageName.Malformed': [400, 'The specified image name is wrongly formed.'],
  'InvalidImageName.Duplicated': [400, 'The specified image name is already in use.'],
  'InvalidDescription.Malformed': [400, 'The specified description is wrongly formed.'],
  'InvalidImageFamily.Malformed': [400, 'The specified parameter "ImageFamily" is malformed.'],
  'InvalidTagKey.Malformed': [400, 'The specified Tag.n.Key is not valid.'],
  'InvalidTagValue.Malformed': [400, 'The specified Tag.n.Value is not valid.'],
  'Duplicate.TagKey': [400, 'The Tag.N.Key contain duplicate key.'],
  'InvalidBootMode.NotSupport': [400, 'The specified BootMode is not supported.'],
  'InvalidBootMode.Malformed': [400, 'The specified BootMode is not valid.'],
  'InvalidLicenseType.NotSupported': [400, 'The specified LicenseType is not supported.'],
  'InvalidParameter.FeaturesImdsSupport': [400, 'The specified Features.ImdsSupport is not valid.'],
  'InvalidOperation.FeaturesImdsSupportNotMatch': [403, 'The ImdsSupport of the image cannot be changed from v2 to v1.'],
  'ImageStatus.NotAvailable': [403, 'The specified image status is not available.'],
  'ImageStatus.NotDeprecated': [403, 'The specified image status is not deprecated.'],
  'InvalidStatus.ImageIsCreating': [403, 'The specified image is being created.'],
  ImageUseShared: [403, 'The specified image has been shared to others. You can use the DescribeImageSharePermission API to query the users who have been shared.'],
  'InvalidArchitecture.Malformed': [400, 'The specified Architecture is not valid.'],
  'InvalidPlatform.Malformed': [400, 'The specified Platform is not valid.'],
  'InvalidOSType.Malformed': [400, 'The specified OSType is not valid.'],
  'QuotaExceed.Image': [403, 'The Image Quota exceeds.'],
  ImageNotSupported: [403, 'The specified image from the image market, do not support this operation.'],
  'InvalidImageCategory.NotSupported': [403, 'The specified image category is not supported.'],

  // images: lifecycle (create, copy, share, delete)
  'InvalidAccount.NotFound': [404, 'The specified account %s in parameter "AddAccount.n" or "RemoveAccount.n" does not exist.'],
  'InvalidAccount.Forbbiden': [404, 'The specified Account does not yourself.'],
  'QuotaExceed.ShareImageUser': [403, 'The shared Image user Quota exceeds.'],
  'OperationDenied.InvalidImageStatus': [403, 'The specified image cannot be shared when it is deprecated.'],
  IncorrectImageStatus: [400, 'The specified Image is not available.'],
  ImageUsingByInstance: [403, 'The specified image has been used to create instances. You can use the DescribeInstances API to query these instances, or you can use the force parameter to proceed.'],
  'OperationDenied.ImageCopying': [403, 'The image is being copied. Please use the CancelCopyImage API.'],
  ImageIsImporting: [403, 'The specified Image is importing.'],
  ImageIsExporting: [403, 'The specified Image is being exported. You can use the DescribeTasks API to check the status of existing tasks.'],
  ImageIsPublic: [403, 'You can not delete public image, please modify it to private.'],
  'OperationDenied.ImageCopyConflict': [400, 'The specified image is being copied to the destination region.'],
  'OperationDenied.SameRegionOnly': [403, 'The image shared from others can not be copied to another region directly.'],
  'OperationDenied.CommunityImage': [400, 'Community image does not support copy.'],
  'InvalidParameter.EncryptedIllegal': [400, 'The specified parameter Encrypted must be true when kmsKeyId is not empty.'],
  'InvalidOperation.ServiceKeyEncryptedImageUnsupported': [403, 'Images encrypted with the service key cannot be shared; copy the image with Encrypted=true and a KMSKeyId first.'],
  'OperationDeined.FullImage': [403, 'Encrypted images with more than one snapshot cannot be shared.'],
  'InvalidParameter.IsPublic': [403, 'Encrypted images cannot be published as community images.'],
  ImageCreatedNotFromCopy: [400, 'The specified image is not the target image of a copy action.'],
  CancelNotSupported: [400, 'The specified image coping can not be cancelled.'],
  'InvalidSnapshotId.NotFound': [404, 'The specified SnapshotId does not exist.'],
  'InvalidSnapshotId.NotReady': [403, 'The specified snapshot has not completed yet.'],
  'InvalidInstanceId.NotFound': [404, 'The specified InstanceId does not exist.'],
  IncorrectInstanceStatus: [403, 'The current status of the resource does not support this operation.'],
  OperationDenied: [403, 'The specified operation is denied: %s'],
  'InvalidDevice.Malformed': [400, 'The specified device is wrongly formed.'],
  'InvalidDevice.InUse': [400, 'The specified device is already in use.'],
  'InvalidSize.ValueNotSupported': [400, 'The specified disk size is not supported.'],
  'InvalidParameter.KMSKeyId.NotFound': [404, 'The specified KMSKeyId does not exist.'],
  'InvalidImageVersion.Malformed': [400, 'The specified image version is wrongly formed.'],
  'InvalidParameter.AllEmpty': [400, 'The input parameter SnapshotId or InstanceId or DiskDeviceMapping that is mandatory for processing this request is not supplied.'],
  'IdempotenceParamNotMatch': [400, 'The specified ClientToken is already used with different parameters.'],
  'ImageNotSupportInstanceType': [403, 'The specified image does not support the specified InstanceType.'],

  // format inspection (ImportImage, `imagehouse inspect`)
  'InvalidImage.BackingFile': [400, 'The image file refers to a backing file (%s); images must be self-contained.'],
  'InvalidImage.ExternalDataFile': [400, 'The image file keeps its data in an external file (%s), which is not allowed.'],
  'InvalidImage.Encrypted': [400, 'The image file is encrypted (%s); upload an unencrypted image.'],
  'InvalidImage.UnknownFeature': [400, 'The image file uses unknown incompatible features (%s).'],
  'InvalidImage.UnsafeExtent': [400, 'The VMDK descriptor is unsafe: %s'],
  'InvalidImage.TableOutOfBounds': [400, 'A table in the image file lies beyond the end of the file: %s'],
  'InvalidImage.TableOverlap': [400, 'Tables in the image file overlap: %s'],
  'InvalidImage.SharedCluster': [400, 'The image file maps the same data at several places of the disk: %s'],
  'InvalidImage.AbsurdSize': [400, 'The image file declares an unreasonable size: %s'],
  'InvalidImage.Truncated': [400, 'The image file is truncated: %s'],
  'InvalidImage.BadChecksum': [400, 'A checksum in the image file does not match: %s'],
  'InvalidImage.Malformed': [400, 'The image file is malformed: %s'],
  'InvalidImage.UnsupportedFormat': [400, 'The image format is not supported: %s'],
  'InvalidImage.UnsupportedFeature': [400, 'The image file uses a feature that is not supported: %s'],
  'InvalidImageFormat.Mismatch': [400, 'The image format was declared as %s but the file is %s.'],
  'InvalidImageFormat.Malformed': [400, 'The specified image format is not valid.'],

  // transfer: ImportImage, ExportImage, tasks, and the object buckets standing in for OSS
  'InvalidOSSBucket.Malformed': [400, 'The specified OSS bucket name is wrongly formed.'],
  'InvalidOSSBucket.NotFound': [400, 'The specified OSS bucket does not exist in this region.'],
  'InvalidOSSObject.Malformed': [400, 'The specified OSS object name is wrongly formed.'],
  'InvalidOSSObject.NotFound': [400, 'The specified OSS object does not exist in this region.'],
  'InvalidOSSObject.Size': [400, 'The specified OSS object size is zero.'],
  'InvalidOSS.NotAuthorized': [403, 'The ECS service is not authorized to access the specified OSS bucket.'],
  'InvalidOSSPrefix.Malformed': [400, 'The specified OSSPrefix is wrongly formed: 1 to 30 letters and digits.'],
  'MissingParameter.DiskDeviceMapping': [403, 'The input parameter DiskDeviceMapping that is mandatory for processing this request is not supplied.'],
  InvalidImageSize: [400, 'The specified DiskImageSize is not valid: %s'],
  InvalidDataDiskSize: [400, 'The specified data disk size is not valid: %s'],
  'InvalidImage.DiskAmountOrSize': [400, 'An image with more than 4 data disks or a data disk larger than 500 GiB cannot be exported.'],
  ImportImageFailed: [403, 'The image import failed: %s'],
  ExportImageFailed: [403, 'The image export failed: %s'],
  'InvalidTaskId.NotFound': [400, 'The specified "TaskId" is not found.'],
  'InvalidTaskId.TaskActionNotSupport': [403, 'The specified task action not support.'],
  'InvalidTaskId.IncorrectTaskStatus': [403, 'The specified task status is not invalid.'],
  InvalidBucketName: [400, 'The specified bucket name is not valid: 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  InvalidObjectName: [400, 'The specified object key is not valid: %s'],
  AccessDenied: [403, 'You have no right to access this bucket.'],
  'InvalidUpload.Empty': [400, 'The uploaded image file is empty.'],

  // compute: instances, disks, snapshots (RunInstances, DescribeInstances/Disks/Snapshots, ReplaceSystemDisk, ResetDisk, ReInitDisk)
  'InvalidDiskId.NotFound': [404, 'The specified disk does not exist.'],
  'InvalidDiskId.OperationNotSupported': [404, 'The operation is not supported due to image not exist.'],
  SharedImageDeleted: [403, 'The specified image by others shared is deleted.'],
  'OperationDenied.ImageNotValid': [403, 'The specified Image is disabled or is deleted.'],
  'InvalidSystemDiskCategory.ValueNotSupported': [400, 'The specified parameter SystemDisk.Category is not valid.'],
  'InvalidSystemDiskSize.LessThanImageSize': [404, 'The specified parameter SystemDisk.Size is less than the image size.'],
  'InvalidSystemDiskSize.MoreThanMaxSize': [404, 'The specified parameter SystemDisk.Size is more than the max size.'],
  'InvalidSystemDiskSize.LessThanMinSize': [404, 'The specified parameter SystemDisk.Size is less than the min size.'],
  'InvalidSystemDiskSize.ValueNotSupported': [400, 'The specified parameter SystemDisk.Size is not valid.'],
  'InvalidDataDiskCategory.ValueNotSupported': [400, 'The specified parameter DataDisk.n.Category is not valid.'],
  'InvalidDataDiskSize.ValueNotSupported': [400, 'The specified DataDisk.n.Size is beyond the permitted range.'],
  'InvalidInstanceName.Malformed': [400, 'The specified parameter InstanceName is not valid.'],
  'InvalidDiskName.Malformed': [400, 'The specified disk name is wrongly formed.'],
  'InvalidInstanceIds.Malformed': [400, 'The specified parameter InstanceIds is not valid.'],
  'InvalidDiskIds.Malformed': [400, 'The specified parameter DiskIds is not valid.'],
  IncorrectDiskStatus: [403, 'The current disk status does not support this operation.'],
  // CreateDisk, AttachDisk, DetachDisk, DeleteDisk
  'InvalidDiskCategory.ValueNotSupported': [400, 'The specified parameter DiskCategory is not valid.'],
  'InvalidDiskSize.ValueNotSupported': [400, 'The specified parameter Size is beyond the permitted range (%s).'],
  'InvalidDiskId.ZoneMismatch': [403, 'The specified disk and instance are not in the same zone.'],
  'InstanceDiskNumber.LimitExceed': [403, 'The amount of the disk on instance in question reach its limits.'],
  DependencyViolation: [403, 'The specified disk has not been attached on the specified instance.'],
  DiskTypeViolation: [403, 'The specified disk is a system disk: only data disks are attached and detached here.'],
  'IncorrectInstanceStatus.VmRunning': [403, 'Disks of an instance whose VM is running are attached and detached while it is Stopped.'],
  'InvalidParameter.Mismatch': [403, 'The specified snapshot is not created from the specified disk.'],
  InvalidSourceSnapshot: [403, 'The snapshot which is used to create the specified disk has been deleted.'],
  SnapshotCreatedImage: [403, 'The snapshot has been used to create user defined image(s).'],
  SnapshotCreatedDisk: [403, 'The snapshot has been used to create disk(s).'],
  'InvalidSnapshotName.Malformed': [400, 'The specified snapshot name is wrongly formed.'],
  'InvalidRetentionDays.Malformed': [400, 'The specified parameter RetentionDays is not valid.'],
  'QuotaExceed.Snapshot': [403, 'The maximum number of snapshots of the disk is exceeded.'],
  'InvalidSnapshotIds.Malformed': [403, 'The specified parameter SnapshotIds is not valid.'],
  'InvalidStatus.NotFound': [404, 'The specified Status is not found.'],
  'InvalidSnapshotType.NotFound': [404, 'The specified SnapshotType is not found.'],
  InvalidSourceDiskType: [404, 'The specified SourceDiskType is not valid.'],
  'Operation.Conflict': [403, 'The operation may conflicts with others.'],

  // billing and Marketplace (subscriptions, DescribePrice, bills)
  ImageNotSubscribed: [403, 'The specified image has not be subscribed.'],
  'OperationDenied.NotPublished': [403, 'The marketplace image is not published in the destination region.'],
  'OperationDenied.NotAuthorized': [403, 'The marketplace image is not authorized to the user.'],
  'InvalidProductCode.NotFound': [404, 'The specified ProductCode does not exist.'],
  'InvalidPeriod.ValueNotSupported': [400, 'The specified parameter Period is not valid.'],
  'InvalidPriceUnit.ValueNotSupported': [400, 'The specified parameter PriceUnit is not valid.'],
  'InvalidResourceType.ValueNotSupported': [400, 'The specified parameter ResourceType is not valid.'],
  'InvalidMonth.Malformed': [400, 'The specified parameter Month is not valid; expected YYYY-MM.'],

  // OpenStack surfaces (Keystone, Glance): HTTP classes, the message says what went wrong
  'OpenStack.BadRequest': [400, '%s'],
  'OpenStack.Unauthorized': [401, 'The request you have made requires authentication.'],
  'OpenStack.Forbidden': [403, '%s'],
  'OpenStack.NotFound': [404, '%s'],
  'OpenStack.MethodNotAllowed': [405, 'The method is not allowed for this resource.'],
  'OpenStack.Conflict': [409, '%s'],
  'OpenStack.RequestEntityTooLarge': [413, '%s'],
  'OpenStack.UnsupportedMediaType': [415, '%s'],
  'OpenStack.RequestedRangeNotSatisfiable': [416, '%s'],
  'OpenStack.TooManyRequests': [429, 'This project has too many uploads, downloads and other heavy requests in progress; retry once one has ended.'],

  // Huawei Cloud's API gateway in front of IMS: AK/SK and token authentication
  'APIGW.0301': [401, 'Incorrect IAM authentication information: %s'],
  'APIGW.0302': [403, 'The IAM or ACL authentication failed: %s'],

  // image kinds (system disk, data disk, full-ECS): the same rules whichever API is used
  'InvalidImage.DataDiskImage': [400, 'The image %s is a data disk image: it creates data disks, not instances or system disks.'],
  'InvalidImage.NotDataDiskImage': [400, 'The image %s is not a data disk image; only data disk images create disks (system disk images launch instances).'],
  'InvalidImage.WholeImage': [403, 'The image %s is a full-ECS image, which cannot be %s.'],
  'InvalidImage.EncryptedUnshareable': [403, 'The image %s is encrypted; encrypted images cannot be shared.'],
  'InvalidImage.EncryptedCrossRegion': [403, 'The image %s is encrypted; encrypted images cannot be copied to another region.'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message?: string) {
    const [status, template] = ERRORS[code];
    super(message ?? template);
    this.code = code;
    this.status = status;
  }
}

/** Builds the error for `code`, filling `%s` placeholders in order. */
export function apiError(code: ErrorCode, ...args: (string | number)[]): ApiError {
  let i = 0;
  const template: string = ERRORS[code][1];
  const message = template.replace(/%s/g, () => String(args[i++] ?? ''));
  return new ApiError(code, message);
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
