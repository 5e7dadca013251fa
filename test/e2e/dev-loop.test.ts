/**
 * `kdflow dev` as an app author runs it: in a terminal, against the harness's engine. A save re-runs
 * the lifecycle on fresh members and their output comes on the terminal; `+` grows the role; `a` runs
 * a custom action on every member; a broken
 * manifest is shown and waited out; Ctrl-C deletes the cluster and leaves nothing running.
 */
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFailed } from 'vitest';
import { clusterWorkflowId } from '../../api/index.ts';
import { MemberLayout } from '../../runtimes/local/layout.ts';
import { DevTerminal, devLoopCluster, writeDevLoopApp, writeStartscript } from '../../testing/dev-loop.ts';
import { useHarness } from '../../testing/harness.ts';
import { processesUnder } from '../../testing/processes.ts';

const h = useHarness();

describe('kdflow dev', () => {
  it('re-runs the lifecycle on every save, grows on +, runs an action on a, waits out a broken manifest, and leaves nothing on Ctrl-C', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kdflow-dev-'));
    const files = await writeDevLoopApp(dir, 2, 'MARK-1');
    const term = DevTerminal.start(['-f', files.app, '-f', files.cluster], {
      TEMPORAL_ADDRESS: h.env.address,
      KDFLOW_HOME: h.home,
    });
    onTestFailed(() => {
      console.error(`the terminal:\n${term.text}`);
      term.kill();
    });

    // The first run: both members' output, then a line per run and the cluster's.
    let at = await term.waitFor(
      0,
      /using the engine at/,
      /loop-node-0 +│ MARK-1 --configure/,
      /loop-node-1 +│ MARK-1 --configure/,
      /✓ loop-node-0 +│ configure exit 0/,
      /configured: 2\/2 members configured/,
    );

    // A save of the startscript: fresh members run the new script, and only --configure.
    const saved = at;
    await writeStartscript(files.startscript, 'MARK-2');
    at = await term.waitFor(
      at,
      /── saved .*startscript/,
      /loop-node-0 +│ MARK-2 --configure/,
      /loop-node-1 +│ MARK-2 --configure/,
      /configured: 2\/2 members configured/,
    );
    expect(term.text.slice(saved, at)).not.toMatch(/--addnodes/);

    // + grows the role by one: the new member configures, the others hear --addnodes.
    term.type('+');
    at = await term.waitFor(
      at,
      /grow node: 2 → 3/,
      /loop-node-2 +│ MARK-2 --configure/,
      /loop-node-0 +│ MARK-2 --addnodes/,
      /loop-node-1 +│ MARK-2 --addnodes/,
      /configured: 3\/3 members configured/,
    );

    // a runs a custom action: the app declares two, so a prompt line offers them and a digit picks one.
    // Its parameters take their defaults; every target's output, then its result and a summary line.
    term.type('a');
    at = await term.waitFor(at, /run which action\? 1 compact, 2 backup/);
    term.type('1');
    at = await term.waitFor(
      at,
      /── action compact-1 started on 3 member\(s\) \(level=low\)/,
      /loop-node-0 +│ MARK-2 --action compact --param level=low on/,
      /loop-node-1 +│ MARK-2 --action compact --param level=low on/,
      /loop-node-2 +│ MARK-2 --action compact --param level=low on/,
      /✓ loop-node-0 +│ action compact exit 0 in/,
      /✓ loop-node-1 +│ action compact exit 0 in/,
      /✓ loop-node-2 +│ action compact exit 0 in/,
      /── action compact-1 succeeded: 3 of 3 succeeded, [\d.]+ s after it started/,
    );

    // A broken manifest is shown, and the loop waits for the next save.
    await writeFile(files.cluster, `${devLoopCluster(2)}  broken: [\n`);
    at = await term.waitFor(at, /cluster\.yaml: not valid JSON or YAML/, /waiting for the next save/);
    await writeFile(files.cluster, devLoopCluster(2));
    at = await term.waitFor(at, /loop-node-1 +│ MARK-2 --configure/, /configured: 2\/2 members configured/);

    // Ctrl-C: the cluster is deleted, the process ends with 0, no member and none of its processes is left.
    term.type('\x03');
    expect(await term.exited).toBe(0);
    expect(term.text.slice(at)).toMatch(/stopping: deleting cluster\/loop[\s\S]*kdflow: stopped/);
    const description = await h.env.client.workflow.getHandle(clusterWorkflowId('default', 'loop')).describe();
    expect(description.status.name).toBe('COMPLETED');
    const clusterDir = new MemberLayout(h.home).clusterDir('default', 'loop');
    expect((await readdir(clusterDir).catch(() => [])).filter((m) => !m.startsWith('.'))).toEqual([]);
    expect(await processesUnder(clusterDir)).toEqual([]);
  });
});
