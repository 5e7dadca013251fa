/**
 * What a workflow bundle is made of, as one hash: every source file reachable by import from the
 * entry points (their bytes), every package the bundle or its bundler comes from (name and version),
 * and the bundler options. Any change to one of them gives another hash, so a cached bundle is
 * never stale. Computed before bundling, in a few milliseconds (docs/adr/0017).
 *
 * The walk reads import specifiers with regular expressions: it may over-include (an import in a
 * comment), which only costs a rebuild. What webpack really read is checked against this key after
 * each build (bundle-cache.ts), so a file the walk missed is never cached.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';

/** Bumped when the way kdflow bundles changes (options, the hook, the file format). */
export const BUNDLE_FORMAT = 1;
/** In every bundle besides what the sources import: the workflow runtime (with what it depends on). */
export const BUNDLED_PACKAGES = ['@temporalio/workflow', '@temporalio/common'];
/** What makes the bundle (their version only: their own dependencies do not reach the output). */
export const BUNDLER_PACKAGES = ['@temporalio/worker', 'webpack', 'swc-loader', '@swc/core', 'source-map-loader'];

export interface BundleSources {
  /** Where relative names in the key start (the repository): moving the checkout keeps the key. */
  root: string;
  workflowsPath: string;
  preloadModules: string[];
  /**
   * The failure converter the bundle's workflows use (the SDK's `failureConverterPath`), so failures
   * raised by workflow code are converted like the worker's own (lib/codec-failures.ts); none: the SDK default.
   */
  failureConverterPath?: string;
}

export interface BundleKey {
  hash: string;
  /** Absolute paths of the source files in the hash. */
  files: string[];
  /** name → versions found (a package may be installed at two versions). */
  packages: Map<string, Set<string>>;
}

const BUILTINS = new Set(builtinModules);
// `import x from '…'`, `export { y } from '…'`, multi-line; `import type` / `export type` are erased by the compiler.
const FROM = /\b(import|export)\s+(type\s+)?[\w*{}\s,$]*?\bfrom\s*['"]([^'"\n]+)['"]/g;
const BARE_IMPORT = /\bimport\s*['"]([^'"\n]+)['"]/g;
const DYNAMIC = /\b(?:import|require)\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** The specifiers a source file loads at run time. */
export function runtimeImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(FROM)) if (!m[2]) found.push(m[3] as string);
  for (const m of source.matchAll(BARE_IMPORT)) found.push(m[1] as string);
  for (const m of source.matchAll(DYNAMIC)) found.push(m[1] as string);
  return found;
}

/** `@scope/name/sub` → `@scope/name`; `zod/v4` → `zod`; undefined for relative, absolute and built-in names. */
export function packageName(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
  return BUILTINS.has(name) ? undefined : name;
}

const isFile = (p: string) =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

/** How the bundler resolves a relative name: as written, `.js` written for `.ts`, no extension, or a directory's index. */
async function resolveRelative(from: string, specifier: string): Promise<string | undefined> {
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [
    base,
    base.replace(/\.js$/, '.ts'),
    `${base}.ts`,
    `${base}.js`,
    path.join(base, 'index.ts'),
    path.join(base, 'index.js'),
  ];
  for (const candidate of candidates) if (await isFile(candidate)) return candidate;
  return undefined;
}

/** The directory of package `name` as Node finds it from `fromDir` (the nearest node_modules up the tree). */
async function packageDir(name: string, fromDir: string): Promise<string | undefined> {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (await isFile(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

interface PackageWanted {
  name: string;
  fromDir: string;
  /** Follow its `dependencies` too. */
  closure: boolean;
}

/** Versions of the packages wanted, found as Node finds them (and, for a closure, of their dependencies). */
async function packageVersions(wanted: PackageWanted[]): Promise<Map<string, Set<string>>> {
  const versions = new Map<string, Set<string>>();
  const seen = new Set<string>();
  let round = wanted;
  while (round.length > 0) {
    const found = await Promise.all(
      round.map(async (w) => {
        const dir = await packageDir(w.name, w.fromDir);
        const manifest = dir
          ? (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as {
              version?: string;
              dependencies?: Record<string, string>;
            })
          : undefined;
        return { ...w, dir, manifest };
      }),
    );
    const next: PackageWanted[] = [];
    for (const { name, dir, manifest, closure } of found) {
      const id = `${dir ?? `missing:${name}`}:${closure}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (!versions.has(name)) versions.set(name, new Set());
      versions.get(name)?.add(manifest?.version ?? (dir ? 'unversioned' : 'missing'));
      if (dir && closure)
        for (const dep of Object.keys(manifest?.dependencies ?? {}))
          next.push({ name: dep, fromDir: dir, closure: true });
    }
    round = next;
  }
  return versions;
}

/** The nearest package.json above a file: its `type`, `imports` and `sideEffects` steer the bundler. */
async function nearestManifest(file: string): Promise<string | undefined> {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (await isFile(path.join(dir, 'package.json'))) return path.join(dir, 'package.json');
    if (path.dirname(dir) === dir) return undefined;
  }
}

export async function bundleKey(sources: BundleSources): Promise<BundleKey> {
  const converter = sources.failureConverterPath ? path.resolve(sources.failureConverterPath) : undefined;
  const entries = [sources.workflowsPath, ...sources.preloadModules].map((p) => path.resolve(p));
  const files = new Map<string, string>();
  const unresolved = new Set<string>();
  const packages: PackageWanted[] = BUNDLED_PACKAGES.map((name) => ({ name, fromDir: sources.root, closure: true }));
  const queue = [...entries, ...(converter ? [converter] : [])];
  for (let file = queue.shift(); file; file = queue.shift()) {
    if (files.has(file)) continue;
    const text = await readFile(file, 'utf8');
    files.set(file, text);
    const manifest = await nearestManifest(file);
    if (manifest && !files.has(manifest)) files.set(manifest, await readFile(manifest, 'utf8'));
    for (const specifier of runtimeImports(text)) {
      const name = packageName(specifier);
      if (name) packages.push({ name, fromDir: path.dirname(file), closure: true });
      else if (specifier.startsWith('.')) {
        const resolved = await resolveRelative(file, specifier);
        if (resolved) queue.push(resolved);
        else unresolved.add(`${path.relative(sources.root, file)} → ${specifier}`);
      }
    }
  }
  // The bundler's helpers are found where the SDK's bundler finds them: from @temporalio/worker.
  const worker = (await packageDir('@temporalio/worker', sources.root)) ?? sources.root;
  packages.push(...BUNDLER_PACKAGES.map((name) => ({ name, fromDir: worker, closure: false })));
  const versions = await packageVersions(packages);
  const relative = (p: string) => path.relative(sources.root, p);
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      format: BUNDLE_FORMAT,
      entries: entries.map(relative),
      preload: sources.preloadModules.map((p) => relative(path.resolve(p))),
      ...(converter ? { failureConverter: relative(converter) } : {}),
    }),
  );
  for (const [file, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1)))
    hash.update(`\0file\0${relative(file)}\0${createHash('sha256').update(text).digest('hex')}`);
  for (const [name, found] of [...versions].sort(([a], [b]) => (a < b ? -1 : 1)))
    hash.update(`\0package\0${name}@${[...found].sort().join('|')}`);
  for (const missing of [...unresolved].sort()) hash.update(`\0unresolved\0${missing}`);
  return { hash: hash.digest('hex').slice(0, 32), files: [...files.keys()], packages: versions };
}
