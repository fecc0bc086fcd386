/**
 * How many terminal columns a text takes, for the table format: a CJK character or an emoji takes
 * two, a combining mark or a zero-width character none, a flag or a ZWJ emoji sequence (one
 * grapheme) two. Printable ASCII (nearly every table) is measured by its length and never reaches
 * the Unicode path; only text with emoji in it is split into graphemes (Intl.Segmenter).
 */

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A character that takes no column: combining, enclosing, format, default-ignorable, or a Hangul vowel or final Jamo. */
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}\p{Default_Ignorable_Code_Point}\u1160-\u11ff]/u;
/** Text with emoji in it is measured by graphemes: a ZWJ sequence, a flag or a keycap is one emoji of two columns. */
const EMOJI = /[\p{Extended_Pictographic}\p{Emoji_Presentation}\p{Regional_Indicator}\u20e3\ufe0f]/u;
/** A grapheme shown as an emoji (two columns): emoji presentation by default, or asked for with VS16, or a flag. */
const EMOJI_PRESENTATION = /\p{Emoji_Presentation}|\p{Regional_Indicator}|^\p{Emoji}\uFE0F/u;

/**
 * East Asian Wide and Fullwidth code points (Unicode's EastAsianWidth.txt, W and F, merged into
 * ranges; emoji are found by EMOJI_PRESENTATION above).
 */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2329, 0x232a], // angle brackets
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK strokes, enclosed CJK, compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe4], // ideographic symbols
  [0x17000, 0x18cff], // Tangut
  [0x1b000, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f202], // enclosed ideographic supplement
  [0x1f210, 0x1f23b],
  [0x1f240, 0x1f248],
  [0x1f250, 0x1f251],
  [0x20000, 0x3fffd], // CJK extensions B and later, planes 2 and 3
];

function isWide(codePoint: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (codePoint < WIDE[mid][0]) hi = mid - 1;
    else if (codePoint > WIDE[mid][1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Columns of one character (code point): 0, 1 or 2. */
function charWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x300 && cp !== 0xad) return 1; // Latin: nothing below the combining marks takes no column but the soft hyphen
  if (isWide(cp)) return 2;
  return ZERO_WIDTH.test(ch) ? 0 : 1;
}

/** Columns of one unit of text (a character, or a grapheme when the text holds emoji). */
function unitWidth(unit: string): number {
  if (EMOJI_PRESENTATION.test(unit)) return 2;
  if (unit.length === 1) return charWidth(unit);
  let width = 0;
  for (const ch of unit) width += charWidth(ch);
  return width;
}

let segmenter: Intl.Segmenter | null = null;

/**
 * The text cut where a column count can change: graphemes when it holds emoji (so a ZWJ sequence
 * or a flag stays whole), else characters, which is cheaper and as good (a combining mark is a
 * character of width 0 that follows its letter).
 */
function units(text: string): string[] {
  if (!EMOJI.test(text)) return Array.from(text);
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** Terminal columns the text takes. */
export function displayWidth(text: string): number {
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  if (!EMOJI.test(text)) {
    for (const ch of text) width += charWidth(ch);
    return width;
  }
  for (const unit of units(text)) width += unitWidth(unit);
  return width;
}

/**
 * The text padded with spaces to `width` columns; a longer one is cut between graphemes and ends
 * in `…` (a wide character that would straddle the edge is dropped and a space fills its column).
 */
export function padToWidth(text: string, width: number): string {
  if (PRINTABLE_ASCII.test(text)) {
    if (text.length > width) return `${text.slice(0, Math.max(0, width - 1))}…`;
    return text + ' '.repeat(width - text.length);
  }
  const parts = units(text);
  const widths = parts.map(unitWidth);
  const total = widths.reduce((a, b) => a + b, 0);
  if (total <= width) return text + ' '.repeat(width - total);
  let kept = '';
  let used = 0;
  for (let i = 0; i < parts.length && used + widths[i] <= width - 1; i++) {
    kept += parts[i];
    used += widths[i];
  }
  return `${kept}…${' '.repeat(Math.max(0, width - 1 - used))}`;
}
