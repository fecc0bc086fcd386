import { accountDeletedMail, confirmationMail, escapeHtml, invitationMail, passwordResetMail, setPasswordMail } from '../../../lib/mail/templates';

const APP = 'https://social.example';

describe('templates', () => {
  const url = `${APP}/registration/TOKEN123`;

  test('every kind has a subject naming the site, the link in the text and in the HTML, and no raw markup from names', () => {
    const when = new Date('2026-03-11T12:00:00Z');
    const mails = [
      invitationMail({ appUrl: APP, url, name: '<b>Jane</b>', expiresAt: '2026-04-01', uses: 3 }),
      setPasswordMail({ appUrl: APP, url, nickname: 'bob', name: 'Bob & "Co"', expiresAt: when }),
      passwordResetMail({ appUrl: APP, url, nickname: 'bob', name: null, expiresAt: when }),
      confirmationMail({ appUrl: APP, url, nickname: 'bob', name: '<script>x</script>', expiresAt: null }),
    ];
    expect(mails.map((m) => m.subject)).toEqual([
      'You are invited to join social.example',
      'Set your password for social.example',
      'Reset your password for social.example',
      'Confirm your email address for social.example',
    ]);
    for (const m of mails) {
      expect(m.text).toContain(`\n${url}\n`);
      expect(m.html).toContain(`href="${url}"`);
      expect(m.html).not.toMatch(/<script>|<b>Jane/);
    }
    expect(mails[0].text).toMatch(/^Hello <b>Jane<\/b>,\n/);
    expect(mails[0].html).toContain('<p>Hello &lt;b&gt;Jane&lt;/b&gt;,</p>');
    expect(mails[0].text).toContain('The invitation works until the end of 2026-04-01 (UTC).');
    expect(mails[0].text).toContain('It can create up to 3 accounts.');
    expect(mails[1].text).toContain('Your user name is bob.');
    expect(mails[1].text).toContain('The link works once, until 2026-03-11 12:00 UTC.');
    expect(mails[1].html).toContain('Bob &amp; &quot;Co&quot;');
    expect(mails[2].text).toMatch(/^Hello bob,\n/);
    expect(mails[3].text).toContain('The link works once.');
  });

  test('a line break in a name never reaches the subject or splits a line', () => {
    const m = setPasswordMail({ appUrl: APP, url, nickname: 'bob', name: 'Bob\r\nBcc: evil@example.com', expiresAt: null });
    expect(m.subject).not.toMatch(/[\r\n]/);
    expect(m.text.split('\n')[0]).toBe('Hello Bob Bcc: evil@example.com,');
  });

  test('the account-deleted notice says whether it can still be restored', () => {
    const soft = accountDeletedMail({ appUrl: APP, nickname: 'bob', restorableUntil: new Date('2026-06-01T00:00:00Z') });
    expect(soft.subject).toBe('Your account on social.example was deleted');
    expect(soft.text).toContain('Your account bob on social.example was deleted by an administrator.');
    expect(soft.text).toContain('before 2026-06-01 00:00 UTC: until then the account can be restored.');
    const purged = accountDeletedMail({ appUrl: APP, nickname: 'bob', restorableUntil: null });
    expect(purged.text).toContain('cannot be restored');
    expect(purged.html).not.toContain('href="https://social.example/');
  });

  test('escapeHtml escapes the five characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
