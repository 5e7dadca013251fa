/**
 * Role env values whose names look secret (DB_PASSWORD, API_TOKEN, AWS_SECRET_ACCESS_KEY…) are kept
 * out of what kdflow shows: a startscript that echoes its environment must not put them in status,
 * `kdflow get -o json`, history or the Web UI. The member's own output files keep everything, as a
 * container's log would.
 */

export const SECRET_ENV_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE/i;
/** Shorter values are left alone: redacting "1" or "on" everywhere would garble every tail. */
export const MIN_SECRET_LENGTH = 4;
export const REDACTED = '[redacted]';

export function secretValues(env: readonly { name: string; value: string }[]): string[] {
  return env.filter((e) => SECRET_ENV_NAME.test(e.name) && e.value.length >= MIN_SECRET_LENGTH).map((e) => e.value);
}

/** Every occurrence of each secret, and a secret's tail where the text begins (a tail may cut one in half). */
export function redact(text: string, secrets: readonly string[]): string {
  if (!text || secrets.length === 0) return text;
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join(REDACTED);
  for (const secret of secrets) {
    for (let cut = 1; secret.length - cut >= MIN_SECRET_LENGTH; cut++) {
      if (out.startsWith(secret.slice(cut))) {
        out = REDACTED + out.slice(secret.length - cut);
        break;
      }
    }
  }
  return out;
}
