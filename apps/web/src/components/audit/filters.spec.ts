import { readFilters } from './filters';

describe('audit filters', () => {
  it('keeps outcome=cancelled from the URL and drops an outcome the API does not know', () => {
    expect(readFilters({ outcome: 'cancelled' })).toEqual({ filters: { outcome: 'cancelled' }, dropped: [] });
    expect(readFilters({ outcome: 'canceled' })).toEqual({ filters: {}, dropped: ['outcome'] });
  });
});
