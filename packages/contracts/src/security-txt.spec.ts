import { securityContactUri, securityTxt } from './security-txt';

describe('securityTxt (RFC 9116)', () => {
  const now = new Date('2026-01-01T00:00:00.000Z');

  it('is null without a contact (the route answers 404)', () => {
    expect(securityTxt({ contact: [] }, now)).toBeNull();
  });

  it('lists every contact, a computed Expires 90 days ahead, and the canonical URL', () => {
    expect(
      securityTxt(
        { contact: ['sec@example.test', 'https://example.test/report'], canonical: 'https://gw.example.test/.well-known/security.txt' },
        now,
      ),
    ).toBe(
      [
        'Contact: mailto:sec@example.test',
        'Contact: https://example.test/report',
        'Expires: 2026-04-01T00:00:00Z',
        'Canonical: https://gw.example.test/.well-known/security.txt',
        'Preferred-Languages: en',
        '',
      ].join('\n'),
    );
  });

  it('uses a configured Expires as given', () => {
    expect(securityTxt({ contact: ['mailto:a@b.test'], expires: '2027-06-30T12:00:00+02:00' }, now)).toContain(
      'Expires: 2027-06-30T10:00:00Z\n',
    );
  });

  it('makes bare addresses mailto: URIs and leaves URIs alone', () => {
    expect(securityContactUri('a@b.test')).toBe('mailto:a@b.test');
    expect(securityContactUri('tel:+1-201-555-0123')).toBe('tel:+1-201-555-0123');
  });
});
