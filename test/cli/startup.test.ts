import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { reservePort } from '../../src/cli/startup.ts';

test('a client that connects to a reserved port does not keep the reservation from being released', { timeout: 20_000 }, async () => {
  const reserved = await reservePort('127.0.0.1', 0, '--port');
  const client = net.connect(reserved.port, '127.0.0.1');
  const ended = new Promise<string>((resolve) => {
    client.once('close', () => resolve('closed'));
    client.once('error', () => resolve('closed'));
  });
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  // The client never sends or closes: a health-check poller waiting for its answer while the app starts.
  await reserved.release();
  assert.equal(await ended, 'closed', 'the poller is cut off and may retry');
  const again = net.createServer();
  await new Promise<void>((resolve, reject) => { again.once('error', reject); again.listen(reserved.port, '127.0.0.1', () => resolve()); });
  await new Promise((resolve) => again.close(resolve));
});
