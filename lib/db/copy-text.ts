import { types } from 'pg';

/**
 * Reading PostgreSQL's COPY text format (what `COPY … TO STDOUT` writes by default): one line per
 * row, fields separated by tabs, `\N` for null, and backslash escapes for the characters that
 * would break the format. See lib/db/copy-out.ts for where the text comes from.
 */

const ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

function unescapeField(text: string): string {
  // COPY TO writes only these escapes (and octal ones are accepted on input, so read them too).
  return text.replace(/\\([0-7]{1,3}|.)/g, (_m, c: string) =>
    c.length > 1 || (c >= '0' && c <= '7') ? String.fromCharCode(parseInt(c, 8)) : (ESCAPES[c] ?? c),
  );
}

/** One line (without its line break) as its fields; null for `\N`. */
export function copyFields(line: string): (string | null)[] {
  const fields: (string | null)[] = line.split('\t');
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as string;
    if (f === '\\N') fields[i] = null;
    else if (f.includes('\\')) fields[i] = unescapeField(f);
  }
  return fields;
}

/**
 * A one-dimensional text[] in PostgreSQL's array literal (`{a,"b c","d\"e"}`), already
 * unescaped from COPY, as its elements (an unquoted NULL element is null).
 */
export function textArray(literal: string): (string | null)[] {
  if (literal === '{}') return [];
  const out: (string | null)[] = [];
  let i = 1;
  const end = literal.length - 1; // the closing brace
  while (i < end) {
    if (literal[i] === '"') {
      let value = '';
      i++;
      while (literal[i] !== '"') {
        if (literal[i] === '\\') i++;
        value += literal[i++];
      }
      out.push(value);
      i++; // the closing quote
    } else {
      let j = i;
      while (j < end && literal[j] !== ',') j++;
      const value = literal.slice(i, j);
      out.push(value === 'NULL' ? null : value);
      i = j;
    }
    i++; // the comma
  }
  return out;
}

/**
 * What the driver makes of a timestamptz a fast path does not handle (a Date, or
 * ±Infinity for `infinity`), so such values print exactly as they did through the driver.
 */
export function timestampAsDriverReadsIt(text: string): Date | number {
  const parse = types.getTypeParser(1184, 'text') as (value: string) => Date | number;
  return parse(/infinity$/.test(text) ? text : `${text}+00`);
}
