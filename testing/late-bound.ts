/**
 * A stand-in for what a test file's `beforeAll` starts, so the file can name it once at the top
 * (`const h = useHarness()`) and use it in its tests. Methods are bound to the real object, so one
 * with private state (an API client) works through the stand-in too.
 */
export function lateBound<T extends object>(what: string, current: () => T | undefined): T {
  return new Proxy({} as T, {
    get: (_target, key) => {
      const value = current();
      if (!value) throw new Error(`${what} is used before beforeAll started it`);
      const member: unknown = Reflect.get(value, key);
      return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(value) : member;
    },
  });
}
