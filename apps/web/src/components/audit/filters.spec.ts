// The contracts package is not a dependency of the dashboard; its source is read here only to
// hold the dashboard's copy of the outcomes to it.
import { Outcome } from '../../../../../packages/contracts/src/events';
import { readFilters } from './filters';
import { OUTCOMES } from './types';

describe('audit filters', () => {
  it('offers every outcome the gateway records, cancelled included', () => {
    expect([...OUTCOMES]).toEqual(Outcome.options);
  });

  it('keeps outcome=cancelled from the URL and drops an outcome the API does not know', () => {
    expect(readFilters({ outcome: 'cancelled' })).toEqual({ filters: { outcome: 'cancelled' }, dropped: [] });
    expect(readFilters({ outcome: 'canceled' })).toEqual({ filters: {}, dropped: ['outcome'] });
  });
});
