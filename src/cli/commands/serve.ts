import type { Command } from '../command.ts';
import { EXIT } from '../command.ts';
import { loadConfig, StartupError } from '../../config.ts';
import { createApp } from '../admin.ts';
import { checkDataDir, reservePort } from '../startup.ts';

const EXIT_FOR = { port: EXIT.portInUse, dataDir: EXIT.dataDir, database: EXIT.database, objectStore: EXIT.objectStore } as const;

export const serve: Command = {
  path: ['serve'],
  summary: 'Start the service (SQLite + local files unless IMAGEHOUSE_DATABASE_URL says otherwise)',
  usage: 'imagehouse serve [--port 8080] [--host 127.0.0.1] [--data ./data] [--nbd-port 10809]\n\nExample:\n  IMAGEHOUSE_DATA=/var/lib/imagehouse imagehouse serve --port 8080',
  async run({ flags }, io) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    let stopRequested = false;
    let stop = () => { stopRequested = true; };
    const onSignal = () => stop();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const config = loadConfig(flags, io.env);
      // Both ports are bound before anything is created, so a taken port leaves no data directory behind.
      const http = await reservePort(config.host, config.port, '--port');
      const nbd = await reservePort('127.0.0.1', config.nbdPort, '--nbd-port').catch(async (e) => { await http.release(); throw e; });
      let app;
      try {
        checkDataDir(config.dataDir);
        app = await createApp(config);
      } finally {
        await Promise.all([http.release(), nbd.release()]);
      }
      try {
        const address = await app.server.listen({ port: http.port, host: config.host }).catch((e) => { throw portError(e, http.port, '--port'); });
        const nbdPort = await app.nbd.listen(nbd.port).catch((e) => { throw portError(e, nbd.port, '--nbd-port'); });
        io.err(`imagehouse listening on ${address}, NBD on 127.0.0.1:${nbdPort} (data: ${config.dataDir}, metadata: ${app.store.dialect})`);
        if (!stopRequested) await new Promise<void>((resolve) => { stop = resolve; });
      } finally {
        await app.close();
      }
      return EXIT.ok;
    } catch (e) {
      if (!(e instanceof StartupError)) throw e;
      io.err(`imagehouse: ${e.message}`);
      return EXIT_FOR[e.resource];
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};

function portError(e: unknown, port: number, flag: string): unknown {
  return (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new StartupError('port', `port ${port} is in use (try ${flag})`) : e;
}
