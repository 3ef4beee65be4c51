/**
 * OpenStack's own conformance suite: scripts/tempest.sh runs tempest.api.image.v2 against a fresh server.
 * Every test that runs must pass; the ones that skip are listed with their reasons in the README.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { needing } from '../../support/requires.ts';
import { freePort } from '../../support/ports.ts';

const { test } = needing('tempest');

/** The passes the README publishes; fewer means something regressed. */
const PUBLISHED_PASSES = 78;


test('tempest.api.image.v2 passes against imagehouse', { timeout: 20 * 60_000 }, async () => {
  const port = await freePort();
  const out = await new Promise<string>((resolve) => {
    execFile('scripts/tempest.sh', [], { env: { ...process.env, TEMPEST_PORT: String(port), TEMPEST_TIMEOUT: '900' }, maxBuffer: 16 << 20 }, (_err, stdout, stderr) => resolve(stdout + stderr));
  });
  const m = /tempest: passed (\d+) skipped (\d+) failed (\d+) of (\d+)/.exec(out);
  assert.ok(m, `no result line from scripts/tempest.sh:\n${out}`);
  const [passed, failed] = [Number(m[1]), Number(m[3])];
  assert.equal(failed, 0, out);
  assert.ok(passed >= PUBLISHED_PASSES, `only ${passed} passed (README: ${PUBLISHED_PASSES})\n${out}`);
});
