import { UsageError } from './errors';
import { quoteInput } from './text';

/**
 * Local nicknames: 1 to 64 characters of ASCII letters, digits, `_`, `-` and `.`, starting with a
 * letter or digit. Remote nicknames are `local@host` and are only created by federation/import.
 */
export const LOCAL_NICKNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::\d{1,5})?$/i;
// The local part: no space, no specials, no control or bidi-override character (they would repaint
// a terminal or disguise the address), and no NUL (PostgreSQL cannot store it).
const EMAIL =
  /^[^\s@"<>()[\],;:\\\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** A UTF-16 surrogate without its pair: not a character, stored as U+FFFD by the driver. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether a text holds a lone surrogate: PostgreSQL's jsonb refuses its `\udXXX` escape outright. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

export const MAX_NAME_LENGTH = 256;
export const MAX_BIO_LENGTH = 5000;

export function checkLocalNickname(nickname: string): string {
  if (!LOCAL_NICKNAME.test(nickname)) {
    throw new UsageError(`invalid nickname ${quoteInput(nickname)}: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit`);
  }
  return nickname;
}

export function checkInstance(instance: string): string {
  const host = instance.replace(/^@/, '');
  if (!HOST.test(host)) throw new UsageError(`invalid instance ${quoteInput(instance)}: expected a host name like example.com`);
  return host.toLowerCase();
}

/**
 * Characters that show as nothing or reorder text: format (Cf: zero-width space and joiners,
 * bidi marks and overrides, soft hyphen, BOM), other invisibles (default-ignorable code points:
 * variation selectors, Hangul fillers), control, private-use, unassigned, and separators other
 * than the ASCII space (refused as any space is). In an email they make two addresses that look identical.
 */
const INVISIBLE = /[\p{Cf}\p{Cc}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Default_Ignorable_Code_Point}]/u;

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The one email rule of every way in (CLI, import, API, invites): no invisible or format
 * character, then Unicode NFKC normalization (fullwidth `ｚ` is `z`), then the address syntax.
 * Returns the normalized address, which is what is stored and compared (case-insensitively).
 */
export function checkEmail(email: string): string {
  if (LONE_SURROGATE.test(email)) throw new UsageError(`invalid email ${quoteInput(email)}`);
  const invisible = INVISIBLE.exec(email.replace(/ /g, ''));
  if (invisible) throw new UsageError(`invalid email ${quoteInput(email)}: it contains an invisible or formatting character (${codePoint(invisible[0])})`);
  const normalized = email.normalize('NFKC');
  if (normalized.length > 254 || !EMAIL.test(normalized) || INVISIBLE.test(normalized)) throw new UsageError(`invalid email ${quoteInput(email)}`);
  return normalized;
}

/**
 * A list of email addresses as typed in one field (`create-user --email=`, the console's Register
 * users form): separated by commas, semicolons (as mail programs write lists) or line breaks, none
 * of which an address can hold; each trimmed, blanks dropped, a repeat (by emailKey) kept once.
 * The addresses are not checked here: each is checked as it is used, so one bad address fails alone.
 */
export function splitAddressList(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const part of text.split(/[,;\r\n]+/)) {
    const email = part.trim();
    if (email === '' || seen.has(emailKey(email))) continue;
    seen.add(emailKey(email));
    out.push(email);
  }
  return out;
}

/** What two emails are compared by: the checked (NFKC) form, lower-cased. */
export function emailKey(email: string): string {
  return email.normalize('NFKC').toLowerCase();
}

/**
 * Free text (name, bio): any Unicode, but no NUL (PostgreSQL cannot store it), no lone surrogate
 * (it would be stored as U+FFFD, not as given) and bounded length.
 */
export function checkText(field: string, value: string, max: number): string {
  if (value.includes('\0')) throw new UsageError(`the ${field} contains a NUL byte`);
  if (LONE_SURROGATE.test(value)) throw new UsageError(`the ${field} is not valid Unicode (a lone surrogate)`);
  if (value.length > max) throw new UsageError(`the ${field} is too long: ${value.length} characters, at most ${max}`);
  return value;
}

/**
 * An account's display name as given, or its nickname when none is given or it is only spaces:
 * an account never gets a blank name (`set --name ""` refuses one), however it is created.
 */
export function nameOrNickname(name: string | null | undefined, nickname: string): string {
  return checkText('name', name == null || name.trim() === '' ? nickname : name, MAX_NAME_LENGTH);
}

/**
 * Tags: lower-cased, trimmed, non-empty, no commas or whitespace inside, and no control or
 * bidi-override character or lone surrogate (PostgreSQL's jsonb refuses the latter in the audit
 * row's details, an internal error).
 */
export function normalizeTag(tag: string): string {
  const t = tag.trim().toLowerCase();
  if (!/^[^\s,\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]{1,64}$/u.test(t) || LONE_SURROGATE.test(t))
    throw new UsageError(`invalid tag ${quoteInput(tag)}: 1-64 characters, no spaces or commas`);
  return t;
}
