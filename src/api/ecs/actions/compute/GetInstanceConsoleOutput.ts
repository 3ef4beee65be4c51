import { defineAction } from '../../action.ts';
import { p } from '../../params.ts';
import { requireOwnInstance } from '../../../../services/compute/instances.ts';
import { instanceConsole } from '../../../../services/compute/vms.ts';
import { isoSeconds } from '../../views/time.ts';

/** The last 64 KiB of the instance's serial console (its running VM's, else its last VM's), base64; empty when it never ran as a VM. */
export default defineAction({
  name: 'GetInstanceConsoleOutput',
  readOnly: true,
  schema: { RegionId: p.str({ maxLength: 64 }), InstanceId: p.str({ required: true, maxLength: 64 }), RemoveSymbols: p.bool() },
  async run({ services, accountId }, params) {
    const instance = await requireOwnInstance(services, params.InstanceId, accountId);
    const { output, at } = await instanceConsole(services, instance.id);
    let out = output;
    if (params.RemoveSymbols) out = Buffer.from(out.toString('utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc|[^\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]/g, ''));
    return { InstanceId: instance.id, ConsoleOutput: out.toString('base64'), LastUpdateTime: isoSeconds(at) };
  },
});
