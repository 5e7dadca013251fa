/** The CLI's own entry point (`main`) in this process, against the file's harness. */
import { beforeAll } from 'vitest';
import { main } from '../../cli/main.ts';
import { useHarness, type Harness } from '../../testing/harness.ts';

/** A harness the in-process CLI talks to: TEMPORAL_ADDRESS and KDFLOW_HOME point at it. */
export function useCliHarness(): Harness {
  const h = useHarness();
  beforeAll(() => {
    process.env.TEMPORAL_ADDRESS = h.env.address;
    process.env.KDFLOW_HOME = h.home;
  });
  return h;
}

/** `kdflow ARGS`: the exit code, and what it printed on stdout and stderr. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    (line) => out.push(line),
    (line) => err.push(line),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}
