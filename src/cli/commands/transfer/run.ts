/** What the transfer commands share: argument checks, API errors as exit codes, and waiting for tasks. */
import { ApiCallError, callAction, type ClientConfig } from '../../api.ts';
import type { CliIo } from '../../command.ts';
import { ProgressBar, terminalWriter } from './progress.ts';

export { UsageError, exitCodeOf, withClient } from '../../errors.ts';
export { str as flag } from '../../flags.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pollMs(io: CliIo): number {
  return Number(io.env.IMAGEHOUSE_POLL_MS ?? 1000);
}

export interface TaskOutcome {
  TaskId: string;
  TaskStatus: string;
  TaskProcess: string;
  ErrorCode: string;
  ErrorMsg: string;
  Objects: string[];
}

export async function taskOutcome(cfg: ClientConfig, taskId: string): Promise<TaskOutcome> {
  const t = await callAction(cfg, 'DescribeTaskAttribute', { RegionId: cfg.region, TaskId: taskId });
  const ops: any[] = t.OperationProgressSet?.OperationProgress ?? [];
  const failed = ops.find((o) => o.ErrorCode);
  return {
    TaskId: taskId,
    TaskStatus: t.TaskStatus,
    TaskProcess: t.TaskProcess,
    ErrorCode: failed?.ErrorCode ?? '',
    ErrorMsg: failed?.ErrorMsg ?? '',
    Objects: ops.flatMap((o) => (o.RelatedItemSet?.RelatedItem ?? []).filter((r: any) => r.Name === 'OSSObject').map((r: any) => r.Value)),
  };
}

/** Polls the task until it ends, drawing its progress on stderr; returns its final state. */
export async function waitForTask(cfg: ClientConfig, io: CliIo, taskId: string, label: string): Promise<TaskOutcome> {
  const bar = new ProgressBar(io, label, 100, { unit: 'percent', write: terminalWriter(io) });
  for (;;) {
    const t = await taskOutcome(cfg, taskId);
    bar.set(parseInt(t.TaskProcess, 10) || 0);
    if (t.TaskStatus !== 'Processing') {
      bar.finish(t.TaskStatus);
      return t;
    }
    await sleep(pollMs(io));
  }
}

/** Polls the image until it leaves Waiting/Creating, drawing its Progress; returns its final status. */
export async function waitForImage(cfg: ClientConfig, io: CliIo, imageId: string, label: string): Promise<string> {
  let bar: ProgressBar | undefined;
  let total = 0;
  for (;;) {
    const res = await callAction(cfg, 'DescribeImages', { RegionId: cfg.region, ImageId: imageId, Status: 'Waiting,Creating,Available,CreateFailed,UnAvailable' });
    const image = res.Images?.Image?.[0];
    if (!image) throw new ApiCallError('InvalidImageId.NotFound', `image ${imageId} is gone`, 404, res.RequestId);
    // The service reports a percentage of the image's disks; over their size it reads as bytes, a rate and an ETA.
    if (!bar) {
      total = (Number(image.Size) || 0) * 1024 ** 3;
      bar = total > 0
        ? new ProgressBar(io, label, total, { unit: 'bytes', write: terminalWriter(io) })
        : new ProgressBar(io, label, 100, { unit: 'percent', write: terminalWriter(io) });
    }
    const pct = parseInt(image.Progress, 10) || 0;
    bar.set(total > 0 ? Math.round((pct / 100) * total) : pct);
    if (image.Status !== 'Waiting' && image.Status !== 'Creating') {
      bar.finish(image.Status);
      return image.Status;
    }
    await sleep(pollMs(io));
  }
}
