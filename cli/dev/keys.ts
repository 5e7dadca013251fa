/**
 * `kdflow dev`'s keys, read one at a time from a terminal in raw mode (so Ctrl-C arrives as a key,
 * not a signal, and is handled as one). Without a terminal there are no keys: Ctrl-C and SIGTERM
 * still stop the loop (lib/stop.ts), and another terminal's `kdflow resize` still grows and shrinks.
 */
export type DevKey = 'grow' | 'shrink' | 'next-role' | 'rerun' | 'action' | 'pick' | 'quit' | 'help';

const KEYS: Readonly<Record<string, DevKey>> = Object.assign(Object.create(null) as Record<string, DevKey>, {
  '+': 'grow',
  '=': 'grow',
  '-': 'shrink',
  _: 'shrink',
  r: 'next-role',
  '\t': 'next-role',
  '\r': 'rerun',
  '\n': 'rerun',
  a: 'action',
  // A choice at the action prompt (`a` when the app declares several).
  ...Object.fromEntries([...'123456789'].map((digit) => [digit, 'pick' as const])),
  q: 'quit',
  '\x03': 'quit',
  '\x04': 'quit',
  h: 'help',
  '?': 'help',
});

export const KEYS_HELP = 'keys: + grow, - shrink, r next role, a action, Enter re-run, q quit';

export function keyOf(input: string): DevKey | undefined {
  return KEYS[input];
}

/** Starts reading keys when stdin is a terminal; returns how to stop (and restore the terminal), or undefined. */
export function readKeys(
  onKey: (key: DevKey, input: string) => void,
  stdin: NodeJS.ReadStream = process.stdin,
): (() => void) | undefined {
  if (!stdin.isTTY) return undefined;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  const onData = (chunk: string) => {
    for (const ch of chunk) {
      const key = keyOf(ch);
      if (key) onKey(key, ch);
    }
  };
  stdin.on('data', onData);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
}
