/**
 * The helpers every member's scripts find on their PATH (docs/adr/0025): `runtimes/guest/ccli`, a
 * configcli-compatible POSIX sh + awk script, and its other names (configcli, bdvcli, bd_vcli,
 * configmacro) as links. Packed once per worker into a small .tgz that unpacks under /opt/guestconfig
 * to GUEST_BIN_DIR, so both runtimes install it as they install a config package.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';
import { GUESTCONFIG_DIR } from './runtime.ts';

const SOURCE = fileURLToPath(new URL('./guest/', import.meta.url));
/** Inside /opt/guestconfig: kept apart from the package's own directory, which holds the startscript. */
const IN_GUESTCONFIG = '.kdflow/bin';
/** Where the helpers are in a member; its scripts get it first on their PATH. */
export const GUEST_BIN_DIR = `${GUESTCONFIG_DIR}/${IN_GUESTCONFIG}`;

let packed: Promise<string> | undefined;

/** The helpers' archive under `dir` (made once, named by its content): what installPackage unpacks into a member. */
export function guestToolsArchive(dir: string): Promise<string> {
  packed ??= pack(dir).catch((error: unknown) => {
    packed = undefined;
    throw error;
  });
  return packed;
}

async function pack(dir: string): Promise<string> {
  const names = (await readdir(SOURCE)).sort();
  const hash = createHash('sha256');
  for (const name of names) hash.update(`${name}\0${await readFile(path.join(SOURCE, name)).catch(() => '')}\0`);
  const file = path.join(dir, `guest-tools-${hash.digest('hex').slice(0, 16)}.tgz`);
  if (await stat(file).catch(() => undefined)) return file;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await tar.c({ gzip: true, file: tmp, cwd: SOURCE, prefix: IN_GUESTCONFIG, portable: true }, names);
  await rename(tmp, file);
  return file;
}
