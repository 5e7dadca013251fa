import { bashCompletion, zshCompletion } from '../completion.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';

export async function completionCommand(ctx: CliContext, [shell]: string[]): Promise<void> {
  if (shell !== 'bash' && shell !== 'zsh')
    throw new UsageError(`usage: kdflow completion bash|zsh${shell ? `, got "${shell}"` : ''}`);
  // The writer ends each line: the script goes out without its own last newline.
  ctx.out((shell === 'bash' ? bashCompletion() : zshCompletion()).trimEnd());
}
