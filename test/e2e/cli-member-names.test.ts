/**
 * `kdflow apply` refuses a cluster whose member names another running cluster in the namespace
 * already uses (ADR 0018), on the local runtime too: a real dev server and worker, the CLI's entry point.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writePackage } from '../support/cluster.ts';
import { runCli, useCliHarness } from '../support/cli.ts';

const h = useCliHarness();
const kdflow = runCli;

async function manifest(name: string, text: string): Promise<string> {
  const file = path.join(h.home, `${name}.yaml`);
  await writeFile(file, text);
  return file;
}

const cluster = (name: string) =>
  manifest(
    name,
    `apiVersion: kdflow.dev/v1beta1\nkind: KdCluster\nmetadata: {name: ${name}}\nspec:\n  app: split\n  roles:\n    - {id: d, members: 1}\n`,
  );

/** Visibility follows a start by a moment: wait until the list shows the cluster (or no longer does). */
async function visible(name: string, running: boolean): Promise<void> {
  for (;;) {
    let found = false;
    for await (const _ of h.env.client.workflow.list({
      query: `KdCluster = '${name}' AND ExecutionStatus = 'Running'`,
    }))
      found = true;
    if (found === running) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('kdflow apply and member names', () => {
  it('refuses cluster "nm-b" while "nm" runs (both would name members nm-b-c-N), names both, and allows it once "nm" is gone', async () => {
    const pkg = await writePackage(h.home);
    // Roles "b-c" and "c" have no members yet: a later grow of either cluster would collide all the same.
    const app = await manifest(
      'split',
      `apiVersion: kdflow.dev/v1beta1\nkind: KdApp\nmetadata: {name: split}\nspec:\n  label: {name: split}\n  distroID: test/split\n  version: "1"\n  defaultImageRepoTag: test:1\n  defaultConfigPackage: {packageURL: "${pkg}"}\n  roles:\n    - {id: d, cardinality: "1"}\n    - {id: b-c, cardinality: "0+"}\n    - {id: c, cardinality: "0+"}\n`,
    );
    expect((await kdflow('app', 'apply', '-f', app)).code).toBe(0);
    expect(await kdflow('apply', '-f', await cluster('nm'))).toMatchObject({ code: 0, out: 'cluster/nm created' });
    await visible('nm', true);

    const refused = await kdflow('apply', '-f', await cluster('nm-b'));
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      /^kdflow: nm-b: metadata\.name: "nm-b" would name role "c"'s members nm-b-c-0, nm-b-c-1, …, which cluster "nm" in namespace default uses for its role "b-c"/,
    );
    expect(refused.err.split('\n')).toHaveLength(1);
    expect((await kdflow('get', 'nm-b')).code).toBe(4);

    // A name that only looks alike, and a change to the running cluster itself, go through.
    expect(await kdflow('apply', '-f', await cluster('nm-x'))).toMatchObject({ code: 0, out: 'cluster/nm-x created' });
    expect((await kdflow('apply', '-f', await cluster('nm'))).code).toBe(0);

    expect((await kdflow('delete', 'nm')).code).toBe(0);
    expect((await kdflow('wait', 'nm', '--for', 'deleted', '--timeout', '120s')).code).toBe(0);
    await visible('nm', false);
    expect(await kdflow('apply', '-f', await cluster('nm-b'))).toMatchObject({ code: 0, out: 'cluster/nm-b created' });
    for (const name of ['nm-b', 'nm-x']) {
      expect((await kdflow('delete', name)).code).toBe(0);
      expect((await kdflow('wait', name, '--for', 'deleted', '--timeout', '120s')).code).toBe(0);
    }
  });
});
