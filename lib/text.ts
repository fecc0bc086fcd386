/** Wording shared by lib/ messages and the CLI's lines: one spelling of a counted noun. */

/** `3 activities` / `1 activity`. */
export function plural(n: number, one: string, many: string = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** After a message when nothing was written (Mastodon's habit): the one spelling, for lib/ messages and ctx.dryRunSuffix. */
export const DRY_RUN_SUFFIX = ' (dry run)';

/**
 * How many characters of a typed value a message repeats: more than any real nickname, date or
 * path, and nearly any real email address, so normal input is quoted whole.
 */
export const MAX_ECHOED_INPUT = 100;

/**
 * A typed value as a message repeats it (`No user <ref>`): whole up to MAX_ECHOED_INPUT characters,
 * else its start and `…`, so that an error stays one readable line however long the argument was.
 * The cut never splits a surrogate pair.
 */
export function clipInput(text: string, max: number = MAX_ECHOED_INPUT): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** clipInput, in double quotes (JSON's escaping), for a value whose spaces or emptiness must show. */
export function quoteInput(text: string, max: number = MAX_ECHOED_INPUT): string {
  return JSON.stringify(clipInput(text, max));
}
