/** P2, fan-out: 20 members with a 500 ms startscript, all in parallel against `maxParallel: 1`. */
import path from 'node:path';
import { writeScriptPackage } from './clusters.ts';
import type { BenchEnv } from './env.ts';
import { timeCreate } from './p1-overhead.ts';
import { spread, type Spread } from './stats.ts';

export interface FanoutResult {
  members: number;
  scriptMs: number;
  parallelMs: Spread;
  serialMs: Spread;
  /** parallel / serial: 0.025 would be perfect fan-out of 20 members with no overhead. */
  ratio: Spread;
}

export async function fanoutPoint(
  env: BenchEnv,
  reps: number,
  log: (line: string) => void,
  members = 20,
  scriptMs = 500,
): Promise<FanoutResult> {
  const pkg = await writeScriptPackage(path.join(env.home, 'p2'), `sleep ${scriptMs / 1000}`);
  const parallel: number[] = [];
  const serial: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    parallel.push((await timeCreate(env, `p2-par-r${rep}`, members, pkg.url, members)).ms);
    serial.push((await timeCreate(env, `p2-ser-r${rep}`, members, pkg.url, 1)).ms);
    log(
      `  P2 rep ${rep + 1}/${reps}: parallel ${Math.round(parallel.at(-1) ?? 0)} ms, maxParallel 1 ${Math.round(serial.at(-1) ?? 0)} ms`,
    );
  }
  return {
    members,
    scriptMs,
    parallelMs: spread(parallel, 1),
    serialMs: spread(serial, 1),
    ratio: spread(
      parallel.map((p, i) => p / (serial[i] as number)),
      3,
    ),
  };
}
