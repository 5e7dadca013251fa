/**
 * Where a command's output goes. Lines go through `line`; large content (a member's log) goes through
 * `stream`, which holds one chunk at a time: straight to stdout, honouring backpressure, or, when the
 * CLI runs in-process with a line callback (tests, `npm start`), split into lines.
 */
import type { Readable } from 'node:stream';

export interface Output {
  line(text: string): void;
  /** Copies every chunk; ends with a newline when the content does not. Stops quietly when stdout is closed (| head). */
  stream(source: Readable): Promise<void>;
}

export function stdoutOutput(stdout: NodeJS.WriteStream = process.stdout): Output {
  let closed = false;
  // EPIPE (the reader went away: | head) or any other write error: there is no one left to tell.
  stdout.on('error', () => {
    closed = true;
  });
  const write = (chunk: Uint8Array | string) =>
    new Promise<void>((resolve) => {
      if (closed || stdout.write(chunk)) resolve();
      else {
        const settle = () => {
          stdout.off('drain', settle);
          stdout.off('error', settle);
          resolve();
        };
        stdout.once('drain', settle);
        stdout.once('error', settle);
      }
    });
  return {
    line: (text) => void (closed || stdout.write(`${text}\n`)),
    async stream(source) {
      let last: number | undefined;
      for await (const chunk of source as AsyncIterable<Buffer>) {
        if (closed) break;
        if (chunk.length > 0) last = chunk[chunk.length - 1];
        await write(chunk);
      }
      source.destroy();
      if (last !== undefined && last !== 0x0a) await write('\n');
    },
  };
}

export function lineOutput(line: (text: string) => void): Output {
  return {
    line,
    async stream(source) {
      const decoder = new TextDecoder();
      let pending = '';
      for await (const chunk of source as AsyncIterable<Buffer>) {
        const lines = (pending + decoder.decode(chunk, { stream: true })).split('\n');
        pending = lines.pop() ?? '';
        for (const text of lines) line(text);
      }
      pending += decoder.decode();
      if (pending) line(pending);
    },
  };
}
