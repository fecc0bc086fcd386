/** Wording shared by lib/ messages and the CLI's lines: one spelling of a counted noun. */

/** `3 activities` / `1 activity`. */
export function plural(n: number, one: string, many: string = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** After a message when nothing was written (Mastodon's habit): the one spelling, for lib/ messages and ctx.dryRunSuffix. */
export const DRY_RUN_SUFFIX = ' (dry run)';
