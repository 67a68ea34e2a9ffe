import { SubscriptionHolders } from './subscription-holders';

describe('SubscriptionHolders', () => {
  it('tells the upstream only when the last holder of a URI on a backend lets go', () => {
    const h = new SubscriptionHolders();
    h.hold('b1', 'x://1', 's1');
    h.hold('b1', 'x://1', 's2');
    h.hold('b2', 'x://1', 's3');
    expect(h.release('b1', 'x://1', 's1')).toBe(false);
    expect(h.release('b1', 'x://1', 's1')).toBe(false);
    expect(h.release('b1', 'x://1', 's2')).toBe(true);
    // Another backend's subscription is its own.
    expect(h.release('b2', 'x://1', 's3')).toBe(true);
  });

  it('passes an unsubscribe nobody here holds on to the upstream', () => {
    expect(new SubscriptionHolders().release('b1', 'x://1', 's1')).toBe(true);
  });

  it('forgets the sessions that ended and the backends that closed', () => {
    const h = new SubscriptionHolders();
    h.hold('b1', 'x://1', 's1');
    h.hold('b1', 'x://1', 's2');
    h.forgetSession('s2');
    expect(h.release('b1', 'x://1', 's1')).toBe(true);
    h.hold('b1', 'x://2', 's1');
    h.hold('b1', 'x://2', 's2');
    h.forgetBackend('b1');
    expect(h.release('b1', 'x://2', 's1')).toBe(true);
  });
});
