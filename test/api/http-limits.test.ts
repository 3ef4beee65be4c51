/**
 * Issue 11 item 4: slow and idle clients cannot hold connections, and one address cannot open more than its
 * share. Raw sockets against servers started with small limits.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, type TestServer } from '../support/server.ts';

let tight: TestServer;
let roomy: TestServer;

before(async () => {
  tight = await startServer({ env: { IMAGEHOUSE_HEADERS_TIMEOUT_MS: '400', IMAGEHOUSE_REQUEST_TIMEOUT_MS: '1500', IMAGEHOUSE_IDLE_TIMEOUT_MS: '800' } });
  roomy = await startServer({ env: { IMAGEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: '20' } });
});
after(async () => {
  await tight?.stop();
  await roomy?.stop();
});

function connect(server: TestServer): Promise<net.Socket> {
  const { port } = new URL(server.endpoint);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with what the server sent once it closes the connection. */
function closed(s: net.Socket): Promise<string> {
  let got = '';
  s.on('data', (d) => (got += d));
  s.on('error', () => {});
  return new Promise((resolve) => s.once('close', () => resolve(got)));
}

test('a client that trickles its headers is cut off', { timeout: 30_000 }, async () => {
  const s = await connect(tight);
  const done = closed(s);
  s.write('POST / HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => { if (s.writable) s.write('X'); }, 100);
  await done;
  clearInterval(drip);
});

test('an unauthenticated POST that sends 1 byte of a declared 1 MB body is closed', { timeout: 30_000 }, async () => {
  const s = await connect(tight);
  const done = closed(s);
  s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nA');
  await done;
});

test('an upload that stops sending is closed, and the server keeps answering', { timeout: 30_000 }, async () => {
  const s = await connect(tight);
  const done = closed(s);
  s.write('PUT /buckets/b/object?Key=k HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' + 'A'.repeat(1000));
  await done;
  const res = await fetch(`${tight.endpoint}/?Action=DescribeRegions&Version=2014-05-26`);
  assert.equal(res.status, 400);
});

test('a 21st connection from one address is refused; it is accepted again once one closes', { timeout: 30_000 }, async () => {
  const held: net.Socket[] = [];
  for (let i = 0; i < 20; i++) held.push(await connect(roomy));
  const twentyFirst = await connect(roomy).catch(() => undefined);
  if (twentyFirst) {
    const got = await closed(twentyFirst);
    assert.equal(got, '', 'refused without an answer');
  }
  // The 20 held connections still work.
  const first = held[0];
  const answer = new Promise<string>((resolve) => { let d = ''; first.on('data', (c) => { d += c; if (d.includes('\r\n\r\n')) resolve(d); }); });
  first.write('GET /?Action=DescribeRegions HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await answer, /^HTTP\/1.1 400/);
  held.pop()!.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const again = await fetch(`${roomy.endpoint}/?Action=DescribeRegions&Version=2014-05-26`, { headers: { connection: 'close' } });
  assert.equal(again.status, 400);
  for (const s of held) s.destroy();
});

test('a large body is not read before the caller is known', { timeout: 30_000 }, async () => {
  const s = await connect(roomy);
  let got = '';
  const answered = new Promise<void>((resolve) => s.on('data', (d) => { got += d; if (got.includes('}')) resolve(); }));
  s.on('error', () => {});
  // Headers only: the answer comes without a byte of the declared body.
  s.write('POST / HTTP/1.1\r\nHost: x\r\nx-acs-action: DescribeRegions\r\nx-acs-version: 2014-05-26\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 900000\r\n\r\n');
  await answered;
  assert.match(got, /^HTTP\/1.1 400/);
  assert.match(got, /IncompleteSignature/);
  s.destroy();
  const small = await fetch(`${roomy.endpoint}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=DescribeRegions&Version=2014-05-26' });
  assert.equal(((await small.json()) as any).Code, 'MissingParameter', 'small bodies are still read (V1 credentials may be in them)');
});

test('a kept-alive connection advertises the idle timeout it is closed at', { timeout: 30_000 }, async () => {
  const s = await connect(roomy);
  const head = new Promise<string>((resolve) => { let d = ''; s.on('data', (c) => { d += c; if (d.includes('\r\n\r\n')) resolve(d); }); });
  s.write('GET /?Action=DescribeRegions HTTP/1.1\r\nHost: x\r\n\r\n');
  const got = await head;
  s.destroy();
  assert.match(got, /^HTTP\/1.1 400/);
  assert.match(got, /\r\nkeep-alive: timeout=30\r\n/i, 'the default IMAGEHOUSE_IDLE_TIMEOUT_MS, not Fastify\'s 72 s');
});
