/**
 * How deep a request body may nest. A parsed body 8,000 levels deep (16 KB of `[[[…]]]`) overflowed
 * the stack when it was serialised again (JSON.stringify on the way to the database): a 500. No
 * body of the API nests more than a few levels.
 */
export const MAX_JSON_DEPTH = 32;

/** Whether a parsed JSON value nests deeper than `max` objects or arrays; walks without recursion. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(current as Record<string, unknown>)) stack.push({ value: child, depth: depth + 1 });
  }
  return false;
}
