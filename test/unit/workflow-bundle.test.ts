/**
 * The workflow bundle cache (worker/bundle-key.ts, worker/bundle-cache.ts): a source change gives a
 * new key and a new bundle, the same sources reuse the cached file, the cache stays private and
 * small, and the key covers every file webpack reads for the real workflows.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadWorkflowBundle, uncoveredInputs } from '../../worker/bundle-cache.ts';
import { bundleKey, packageName, runtimeImports, type BundleSources } from '../../worker/bundle-key.ts';
import { WORKFLOW_SOURCES, workflowSources } from '../../worker/worker.ts';
import { EncryptionCodec, FAILURE_CONVERTER_PATH } from '../../lib/codec.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const logger = pino({ level: 'silent' });
let root: string;
let sources: BundleSources;
let cacheDir: string;

const write = (rel: string, text: string) => writeFile(path.join(root, rel), text);
const setHelper = (value: string) =>
  write('wf/helper.ts', `export const helper = (): string => ${JSON.stringify(value)};\n`);

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'kdflow-bundle-'));
  await symlink(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
  await mkdir(path.join(root, 'wf'));
  await write('package.json', '{ "type": "module" }\n');
  await write(
    'wf/index.ts',
    `import { sleep } from '@temporalio/workflow';\nimport { helper } from './helper.ts';\nimport type { Shape } from './types.ts';\n\nexport async function fixtureWorkflow(): Promise<Shape> {\n  await sleep(1);\n  return { value: helper() };\n}\n`,
  );
  await write('wf/types.ts', 'export interface Shape { value: string }\n');
  await write('wf/preload.ts', 'export const preloaded = true;\n');
  await write('wf/unrelated.ts', 'export const unrelated = 1;\n');
  await setHelper('one');
  sources = {
    root,
    workflowsPath: path.join(root, 'wf', 'index.ts'),
    preloadModules: [path.join(root, 'wf', 'preload.ts')],
  };
  cacheDir = path.join(root, 'cache', 'bundles');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the bundle key', () => {
  it('reads the imports a file loads at run time, not the type-only ones', () => {
    const source = [
      "import { a } from './a.ts';",
      "import type { B } from './b.ts';",
      "export type { C } from './c.ts';",
      "export * from './d.ts';",
      "import {\n  e,\n  f as g,\n} from '@scope/pkg/sub';",
      "import './side-effect.ts';",
      "const lazy = () => import('./lazy.ts');",
    ].join('\n');
    expect(runtimeImports(source).sort()).toEqual([
      './a.ts',
      './d.ts',
      './lazy.ts',
      './side-effect.ts',
      '@scope/pkg/sub',
    ]);
    expect(['zod/v4', '@temporalio/workflow/lib/x', 'node:fs', 'fs', './x'].map(packageName)).toEqual([
      'zod',
      '@temporalio/workflow',
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('changes with an imported source or the preload list, not with files the bundle does not load', async () => {
    const first = await bundleKey(sources);
    expect((await bundleKey(sources)).hash).toBe(first.hash);
    expect(first.files.map((f) => path.relative(root, f)).sort()).toEqual([
      'package.json',
      'wf/helper.ts',
      'wf/index.ts',
      'wf/preload.ts',
    ]);
    expect([...first.packages.keys()]).toEqual(
      expect.arrayContaining(['@temporalio/workflow', '@temporalio/common', '@temporalio/worker', 'webpack']),
    );

    await write('wf/unrelated.ts', 'export const unrelated = 2;\n');
    // Imported as a type only: erased before bundling.
    await write('wf/types.ts', 'export interface Shape { value: string; other?: number }\n');
    expect((await bundleKey(sources)).hash).toBe(first.hash);

    await setHelper('two');
    const changed = await bundleKey(sources);
    expect(changed.hash).not.toBe(first.hash);

    expect((await bundleKey({ ...sources, preloadModules: [] })).hash).not.toBe(changed.hash);
  });

  it('with a failure converter: another bundle, whose key covers the converter and what it imports', async () => {
    await write('wf/failures.ts', "import { helper } from './helper.ts';\nexport const failureConverter = helper;\n");
    const plain = await bundleKey(sources);
    const withConverter = { ...sources, failureConverterPath: path.join(root, 'wf', 'failures.ts') };
    const converted = await bundleKey(withConverter);
    expect(converted.hash).not.toBe(plain.hash);
    expect(converted.files.map((f) => path.relative(root, f))).toContain('wf/failures.ts');
    await write('wf/failures.ts', 'export const failureConverter = undefined;\n');
    expect((await bundleKey(withConverter)).hash).not.toBe(converted.hash);
    expect((await bundleKey(sources)).hash).toBe(plain.hash);
  });
});

describe('the bundle cache', () => {
  it('builds once, reuses the file for the same sources, and builds anew when a source changes', async () => {
    const built = await loadWorkflowBundle(sources, { cacheDir, logger });
    expect(built.from).toBe('built');
    expect(built.uncovered).toEqual([]);
    expect(built.code).toContain('"one"');
    expect(built.file).toBe(path.join(cacheDir, `${built.hash}.js`));
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect((await stat(built.file as string)).mode & 0o777).toBe(0o600);

    const reused = await loadWorkflowBundle(sources, { cacheDir, logger });
    expect(reused.from).toBe('cache');
    expect(reused.file).toBe(built.file);
    expect(reused.code).toBe(built.code);

    await setHelper('two');
    const rebuilt = await loadWorkflowBundle(sources, { cacheDir, logger });
    expect(rebuilt.from).toBe('built');
    expect(rebuilt.hash).not.toBe(built.hash);
    expect(rebuilt.code).toContain('"two"');
    expect((await readdir(cacheDir)).sort()).toEqual([`${built.hash}.js`, `${rebuilt.hash}.js`].sort());
  });

  it('keeps only the most recently used bundles', async () => {
    const first = await loadWorkflowBundle(sources, { cacheDir, logger, keep: 1 });
    await setHelper('two');
    const second = await loadWorkflowBundle(sources, { cacheDir, logger, keep: 1 });
    expect(await readdir(cacheDir)).toEqual([`${second.hash}.js`]);
    expect(first.hash).not.toBe(second.hash);
  });

  it('rebuilds a cached bundle that does not match its digest, and tightens a cache directory others can read', async () => {
    const built = await loadWorkflowBundle(sources, { cacheDir, logger });
    await writeFile(
      built.file as string,
      `// kdflow workflow bundle ${'0'.repeat(64)}\nthrow new Error('not ours')\n`,
      { mode: 0o600 },
    );
    await chmod(cacheDir, 0o755);
    const again = await loadWorkflowBundle(sources, { cacheDir, logger });
    expect(again.from).toBe('built');
    expect(again.code).toBe(built.code);
    expect((await stat(cacheDir)).mode & 0o777).toBe(0o700);
    expect((await loadWorkflowBundle(sources, { cacheDir, logger })).from).toBe('cache');
  });

  it('without a cache directory, builds in memory', async () => {
    const bundle = await loadWorkflowBundle(sources, { cacheDir: undefined, logger });
    expect(bundle.from).toBe('built');
    expect(bundle.file).toBeUndefined();
  });

  it('names an input the key does not cover (such a bundle is never cached)', async () => {
    const key = await bundleKey(sources);
    const read = [
      ...key.files,
      path.join(root, 'wf'),
      path.join(root, 'wf', 'index-autogenerated-entrypoint.cjs'),
      path.join(root, 'wf', 'generated.ts'),
      path.join(root, 'node_modules', 'left-pad', 'index.js'),
      path.join(root, 'node_modules', '@temporalio', 'workflow', 'lib', 'index.js'),
    ];
    expect(uncoveredInputs(read, key, root)).toEqual([
      'wf/generated.ts',
      `package left-pad (${path.join(root, 'node_modules', 'left-pad', 'index.js')})`,
    ]);
  });
});

describe("kdflow's own workflows", () => {
  it('have every file webpack reads in the key, and keep the preloaded module', async () => {
    const bundle = await loadWorkflowBundle(WORKFLOW_SOURCES, { cacheDir: undefined, logger });
    expect(bundle.uncovered).toEqual([]);
    // The SDK loads what `preloadModules()` requires into the shared module cache (workflows/preload.ts).
    expect(bundle.code).toMatch(/preloadModules\(\) \{\s*__webpack_require__\([^)]*"\.\/workflows\/preload\.ts"\)/);
  });

  it("with a payload key, bundle lib/codec-failures.ts as the workflows' failure converter", async () => {
    const sources = workflowSources(new EncryptionCodec([{ id: 'k1', key: randomBytes(32) }]));
    expect(sources.failureConverterPath).toBe(FAILURE_CONVERTER_PATH);
    expect(workflowSources(new EncryptionCodec([]))).toBe(WORKFLOW_SOURCES);
    const bundle = await loadWorkflowBundle(sources, { cacheDir: undefined, logger });
    expect(bundle.uncovered).toEqual([]);
    expect(bundle.code).toContain('encodeCommonAttributes: true');
  });
});
