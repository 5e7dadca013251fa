import net from 'node:net';

const REASONS = new Map([
  ['ECONNREFUSED', 'connection refused'],
  ['ENOTFOUND', 'host not found'],
  ['EAI_AGAIN', 'host not found (DNS lookup failed)'],
  ['EHOSTUNREACH', 'host unreachable'],
  ['ENETUNREACH', 'network unreachable'],
]);

/** host and port of "host:port" or "[v6]:port"; undefined for anything else (such as a URL scheme). */
export function hostPort(address: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:/[\]]+)):(\d{1,5})$/.exec(address);
  if (!match) return undefined;
  return { host: (match[1] ?? match[2]) as string, port: Number(match[3]) };
}

/**
 * Why a TCP connection to the address is refused outright (the server is not there), or undefined
 * when it connects, or the address is not host:port, or the answer is slow: then the SDK decides.
 */
export async function tcpRefusal(address: string, timeoutMs = 3_000): Promise<string | undefined> {
  const target = hostPort(address);
  if (!target) return undefined;
  return new Promise((resolve) => {
    const socket = net.connect(target);
    const done = (reason: string | undefined) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(reason);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.on('error', (error: NodeJS.ErrnoException) => done(REASONS.get(error.code ?? '')));
  });
}
