import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '../api/manifest.ts';
import { parseManifests } from '../api/manifest.ts';
import { resolvePackageURLs } from '../lib/app-catalog.ts';
import { UsageError } from './errors.ts';

/** Read -f FILE into validated manifests; apps get their package URLs made absolute. */
export async function readManifests(file: string | undefined): Promise<Manifest[]> {
  if (!file) throw new UsageError('-f FILE is required');
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  const dir = path.dirname(path.resolve(file));
  return parseManifests(text, file).map((m) => (m.kind === 'KdApp' ? { ...m, value: resolvePackageURLs(m.value, dir) } : m));
}
