import { html, Html, type Template } from '../../lib/server/html';

/** Without the line breaks prettier puts between tags. */
const tight = (h: Html) => h.text.replace(/>\s+</g, '><').trim();

describe('html, the pages’ template', () => {
  test('escapes every interpolated value unless it is an Html fragment built the same way', () => {
    const name = `<script>alert("x")</script> & 'friends'`;
    const out = html`<p title="${name}">${name}</p>
      ${html`<b>${name}</b>`}`;
    expect(tight(out)).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;friends&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;friends&#39;</p>' +
        '<b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;friends&#39;</b>',
    );
  });

  test('lists (nested too) are joined, null, undefined and false left out, numbers shown', () => {
    const rows: Template<readonly string[]> = (items) =>
      html`<ul>
        ${items.map((i) => html`<li>${i}</li>`)}
      </ul>`;
    expect(tight(rows(['a<', 'b']))).toBe('<ul><li>a&lt;</li><li>b</li></ul>');
    expect(html`${[['x', ['<y>']], null, undefined, false, 0, 7]}`.text).toBe('x&lt;y&gt;07');
  });

  test('takes typed data: a Date or an object does not compile, so a page never shows "[object Object]"', () => {
    const when = new Date(0);
    // @ts-expect-error a Date is not an Interpolation: the template must format it
    const shown = html`${when}`;
    expect(shown).toBeInstanceOf(Html);
    // @ts-expect-error neither is a plain object
    expect(html`${{ a: 1 }}`.text).toBe('[object Object]');
  });
});
