import net from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDevServer } from '../../lib/temporal-server.ts';

describe('the dev server launcher', () => {
  it('refuses a port taken by something that is not Temporal, naming the port', async () => {
    const squatter = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    const home = await mkdtemp(path.join(os.tmpdir(), 'kdflow-dev-'));
    try {
      await expect(
        startDevServer({ port, dbFile: path.join(home, 't.db'), logFile: path.join(home, 't.log') }),
      ).rejects.toThrow(`port ${port} is taken by something that is not a Temporal server`);
    } finally {
      squatter.close();
    }
  });
});
