/** `npm run image`: builds the worker/shim image into an OCI archive under the cache (lib/image/build.ts, docs/adr/0041). */
import { buildImage } from '../lib/image/build.ts';
import { ImageBuildError } from '../lib/image/rootfs.ts';

try {
  const image = buildImage({ log: (line) => process.stderr.write(`[image] ${line}\n`) });
  process.stdout.write(
    `${image.name}: ${image.archive} (${(image.bytes / 1024 / 1024).toFixed(0)} MiB, Node ${image.node}, built in ${image.seconds} s)\n` +
      `push it: skopeo copy oci-archive:${image.archive}:${image.name} docker://REGISTRY/${image.name}\n`,
  );
} catch (error) {
  if (!(error instanceof ImageBuildError)) throw error;
  process.stderr.write(`image: ${error.message}\n`);
  process.exit(1);
}
