/** Wording shared by lib/ messages and the CLI's lines: one spelling of a counted noun. */

/** `3 activities` / `1 activity`. */
export function plural(n: number, one: string, many: string = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
