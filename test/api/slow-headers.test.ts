/**
 * The per-connection header deadline (cutSlowHeaders), on a bare node:http server with Node's own header and
 * request timeouts turned off, so only this guard can cut a connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { cutSlowHeaders } from '../../src/api/http/connections.ts';

async function guarded(firstMs: number, nextMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer({ headersTimeout: 0, requestTimeout: 0, keepAliveTimeout: 60_000 }, (_req, res) => {
    setTimeout(() => res.end('ok'), 150); // a response slower than firstMs must not be cut
  });
  cutSlowHeaders(server, { firstMs, nextMs });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function closedAfter(socket: net.Socket): Promise<string> {
  let got = '';
  socket.on('data', (d) => (got += d));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve(got)));
}

test('a connection that trickles its first request headers is destroyed at the deadline', { timeout: 20_000 }, async () => {
  const server = await guarded(100, 5_000);
  try {
    const s = net.connect(server.port, '127.0.0.1');
    const done = closedAfter(s);
    s.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => { if (s.writable) s.write('X'); }, 20);
    assert.equal(await done, '');
    clearInterval(drip);
  } finally {
    await server.close();
  }
});

test('requests in flight are never cut, and a kept-alive connection gets nextMs for its next request', { timeout: 20_000 }, async () => {
  const server = await guarded(100, 5_000);
  try {
    const s = net.connect(server.port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d));
    const answered = (n: number) => new Promise<void>((resolve) => {
      const check = () => { if ((got.match(/\r\n\r\nok/g) ?? []).length >= n) { s.off('data', check); resolve(); } };
      s.on('data', check);
      check();
    });
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered(1); // took 150 ms, past firstMs
    await new Promise((r) => setTimeout(r, 300)); // idle past firstMs, within nextMs
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered(2);
    assert.ok(!s.destroyed);
    s.destroy();
  } finally {
    await server.close();
  }
});

test('a kept-alive connection that does not send its next request within nextMs is destroyed', { timeout: 20_000 }, async () => {
  const server = await guarded(100, 200);
  try {
    const s = net.connect(server.port, '127.0.0.1');
    const done = closedAfter(s);
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(await done, /\r\n\r\nok$/);
  } finally {
    await server.close();
  }
});
