/** `imagehouse task list|show|cancel`: the account's tasks (imports, exports, ...) in the region. */
import { callAction } from '../../api.ts';
import { EXIT, type Command } from '../../command.ts';
import { table } from '../../format.ts';
import { UsageError, flag, withClient } from './run.ts';

export const taskList: Command = {
  path: ['task', 'list'],
  summary: 'List tasks, newest first',
  usage: 'imagehouse task list [--action ImportImage|ExportImage] [--status Processing|Finished|Failed|Deleted] [--resource ID] [--json]\n\nExample:\n  imagehouse task list --status Processing',
  run: ({ flags }, io) => withClient('task list', flags, io, async (cfg) => {
    const tasks: any[] = [];
    for (let page = 1; ; page++) {
      const res = await callAction(cfg, 'DescribeTasks', {
        RegionId: cfg.region, TaskAction: flag(flags, 'action'), TaskStatus: flag(flags, 'status'), 'ResourceIds.1': flag(flags, 'resource'),
        PageNumber: page, PageSize: 100,
      });
      tasks.push(...res.TaskSet.Task);
      if (tasks.length >= res.TotalCount || res.TaskSet.Task.length === 0) break;
    }
    const rows = tasks.map((t) => ({
      taskId: t.TaskId, action: t.TaskAction, status: t.TaskStatus, resourceId: t.ResourceId, created: t.CreationTime, finished: t.FinishedTime, supportCancel: t.SupportCancel === 'true',
    }));
    if (flags.json) io.out(JSON.stringify(rows));
    else io.out(table(['TASK ID', 'ACTION', 'STATUS', 'RESOURCE', 'CREATED', 'FINISHED'], rows.map((r) => [r.taskId, r.action, r.status, r.resourceId, r.created, r.finished])));
    return EXIT.ok;
  }),
};

export const taskShow: Command = {
  path: ['task', 'show'],
  summary: "Show a task's status, progress, items and error",
  usage: 'imagehouse task show TASK_ID [--json]\n\nExample:\n  imagehouse task show t-bp1abc...',
  run: ({ flags, rest }, io) => withClient('task show', flags, io, async (cfg) => {
    if (rest.length !== 1) throw new UsageError('give one TASK_ID');
    const t = await callAction(cfg, 'DescribeTaskAttribute', { RegionId: cfg.region, TaskId: rest[0] });
    const items = (t.OperationProgressSet?.OperationProgress ?? []).map((o: any) => ({
      status: o.OperationStatus,
      errorCode: o.ErrorCode,
      errorMessage: o.ErrorMsg,
      related: Object.fromEntries((o.RelatedItemSet?.RelatedItem ?? []).map((r: any) => [r.Name, r.Value])),
    }));
    const out = {
      taskId: t.TaskId, action: t.TaskAction, status: t.TaskStatus, progress: t.TaskProcess, supportCancel: t.SupportCancel === 'true',
      created: t.CreationTime, finished: t.FinishedTime, total: t.TotalCount, succeeded: t.SuccessCount, failed: t.FailedCount, items,
    };
    if (flags.json) {
      io.out(JSON.stringify(out));
      return EXIT.ok;
    }
    io.out(`${out.taskId}  ${out.action}  ${out.status}  ${out.progress}  created ${out.created}${out.finished ? `  finished ${out.finished}` : ''}`);
    io.out(table(['ITEM', 'STATUS', 'DETAIL'], items.map((i: any, n: number) => [
      String(n + 1), i.status, [Object.entries(i.related).map(([k, v]) => `${k}=${v}`).join(' '), i.errorCode && `${i.errorCode}: ${i.errorMessage}`].filter(Boolean).join('  '),
    ])));
    return EXIT.ok;
  }),
};

export const taskCancel: Command = {
  path: ['task', 'cancel'],
  summary: 'Cancel a running import or export',
  usage: 'imagehouse task cancel TASK_ID\n\nExample:\n  imagehouse task cancel t-bp1abc...',
  run: ({ flags, rest }, io) => withClient('task cancel', flags, io, async (cfg) => {
    if (rest.length !== 1) throw new UsageError('give one TASK_ID');
    await callAction(cfg, 'CancelTask', { RegionId: cfg.region, TaskId: rest[0] });
    if (flags.json) io.out(JSON.stringify({ taskId: rest[0], cancelRequested: true }));
    else io.out(`Cancel requested for ${rest[0]}`);
    return EXIT.ok;
  }),
};
