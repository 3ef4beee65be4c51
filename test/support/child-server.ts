/** The service as a separate process (`imagehouse serve`), so tests can kill -9 it and start it again. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/imagehouse.js');

export interface ChildServer {
  process: ChildProcess;
  endpoint: string;
  hostPort: string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** `onStdout` receives the server's log output (JSON lines unless IMAGEHOUSE_LOG_FORMAT says otherwise); without it, the output is dropped. */
export async function spawnServer(dataDir: string, env: Record<string, string> = {}, nodeArgs: string[] = [], opts: { onStdout?: (data: Buffer) => void } = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--port', '0', '--nbd-port', '0', '--data', dataDir], {
    env: { ...process.env, IMAGEHOUSE_LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', opts.onStdout ? 'pipe' : 'ignore', 'pipe'],
  });
  if (opts.onStdout) child.stdout!.on('data', opts.onStdout);
  const endpoint = await new Promise<string>((resolve, reject) => {
    let err = '';
    const onData = (d: Buffer) => {
      err += d;
      const m = /listening on (http:\/\/[^\s,]+)/.exec(err);
      if (m) { child.stderr!.off('data', onData); resolve(m[1]); }
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    process: child,
    endpoint,
    hostPort: new URL(endpoint).host,
    async kill9() { child.kill('SIGKILL'); await exited; },
    async stop() { child.kill('SIGTERM'); await exited; },
  };
}
