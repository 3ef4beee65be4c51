/**
 * What ran inside one window of a V8 CPU profile (`node --cpu-prof`): the functions with the most self time and our
 * own frames (src/, or dist/ when the server ran built) with the most inclusive time. The server's event-loop report logs every callback that
 * held the loop over 50 ms with its window on the monotonic clock (`long callback`, fromUs/toUs), which is the clock
 * of the profile's timestamps; bench/load-soak.ts --cpu-prof uses this to name what those callbacks did.
 * Usage: node --import tsx bench/profile-holds.ts PROFILE.cpuprofile FROM_US TO_US
 */
import fs from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number }

export interface Profile {
  /** Each sample's node, its time (µs, monotonic) and how long until the next sample. */
  samples: { node: number; at: number; us: number }[];
  byId: Map<number, ProfileNode>;
  parent: Map<number, number>;
}

export function readProfile(file: string): Profile {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let at = p.startTime;
  const times = p.timeDeltas.map((d) => (at += d));
  const samples = p.samples.map((node, i) => ({ node, at: times[i], us: (times[i + 1] ?? times[i]) - times[i] }));
  return { samples, byId, parent };
}

const frameName = (n: ProfileNode) => {
  const file = n.callFrame.url.replace(/^.*\/(src|node_modules)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'}${file ? ` ${file}:${n.callFrame.lineNumber + 1}` : ''}`;
};

/** The costliest functions (self) and src/ frames (inclusive) of the samples between fromUs and toUs, as text. */
export function whatRan(profile: Profile, fromUs: number, toUs: number, top = 4): { sampledMs: number; self: string; ours: string } {
  const self = new Map<string, number>();
  const ours = new Map<string, number>();
  let total = 0;
  for (const s of profile.samples) {
    if (s.at < fromUs || s.at >= toUs) continue;
    const leaf = profile.byId.get(s.node)!;
    if (leaf.callFrame.functionName === '(idle)') continue;
    total += s.us;
    self.set(frameName(leaf), (self.get(frameName(leaf)) ?? 0) + s.us);
    const seen = new Set<string>();
    for (let id: number | undefined = s.node; id !== undefined; id = profile.parent.get(id)) {
      const n = profile.byId.get(id)!;
      if (!/\/(src|dist)\//.test(n.callFrame.url) || /node_modules/.test(n.callFrame.url)) continue;
      const name = frameName(n);
      if (seen.has(name)) continue;
      seen.add(name);
      ours.set(name, (ours.get(name) ?? 0) + s.us);
    }
  }
  const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `${k} ${(us / 1000).toFixed(0)} ms`).join('; ');
  return { sampledMs: total / 1000, self: list(self), ours: list(ours) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, from, to] = process.argv.slice(2);
  console.log(whatRan(readProfile(file), Number(from), Number(to), 8));
}
