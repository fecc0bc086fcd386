import { UsageError } from '../../lib/errors';
import { parseSince } from '../../lib/dates';

const NOW = new Date('2026-03-10T12:00:00Z');

describe('parseSince', () => {
  test.each([
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2024-05-01T12:30:00Z', '2024-05-01T12:30:00.000Z'],
    ['2024-05-01T12:30:00+02:00', '2024-05-01T10:30:00.000Z'],
    ['2024-05-01T12:30', '2024-05-01T12:30:00.000Z'],
    ['7d', '2026-03-03T12:00:00.000Z'],
    ['12h', '2026-03-10T00:00:00.000Z'],
    ['2w', '2026-02-24T12:00:00.000Z'],
    ['365d', '2025-03-10T12:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseSince(text, '--since', NOW).toISOString()).toBe(iso);
  });

  test.each(['2019-02-30', '2023-02-29', '2024-13-01', '2024-05-01T25:00:00Z', 'yesterday', '7 days', '', '-7d', '99999999d', '999999999d'])(
    '%j is exit 2 quoting the value',
    (text) => {
      expect(() => parseSince(text, '--since', NOW)).toThrow(UsageError);
      expect(() => parseSince(text, '--since', NOW)).toThrow(
        `invalid date ${JSON.stringify(text)} for --since: expected YYYY-MM-DD, an ISO timestamp or a duration like 7d, 12h or 2w`,
      );
    },
  );
});
