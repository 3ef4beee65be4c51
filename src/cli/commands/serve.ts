import type { Command } from '../command.ts';
import { loadConfig } from '../../config.ts';
import { createApp } from '../admin.ts';

export const serve: Command = {
  path: ['serve'],
  summary: 'Start the service (SQLite + local files unless IMAGEHOUSE_DATABASE_URL says otherwise)',
  usage: 'imagehouse serve [--port 8080] [--host 127.0.0.1] [--data ./data] [--nbd-port 10809]\n\nExample:\n  IMAGEHOUSE_DATA=/var/lib/imagehouse imagehouse serve --port 8080',
  async run({ flags }, io) {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const config = loadConfig(flags, io.env);
    const app = await createApp(config);
    const address = await app.server.listen({ port: config.port, host: config.host });
    const nbdPort = await app.nbd.listen(config.nbdPort);
    io.err(`imagehouse listening on ${address}, NBD on 127.0.0.1:${nbdPort} (data: ${config.dataDir}, metadata: ${app.store.dialect})`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await app.close();
    return 0;
  },
};
