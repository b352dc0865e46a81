import { describe, expect, it } from 'vitest';
import { fromBase64Url, subscriptionBody } from '../src/push';

describe('push', () => {
  it('reads the VAPID key from base64url, with or without padding', () => {
    expect([...fromBase64Url('BAEC_-8')]).toEqual([4, 1, 2, 255, 239]);
    expect([...fromBase64Url('BAEC_-8=')]).toEqual([4, 1, 2, 255, 239]);
    expect(fromBase64Url('').length).toBe(0);
  });
  it("posts the browser's PushSubscription shape, keys included, nothing else", () => {
    const json = { endpoint: 'https://push.example/x', expirationTime: null, keys: { p256dh: 'BKey', auth: 'secret' } };
    expect(subscriptionBody(json)).toEqual({ endpoint: 'https://push.example/x', keys: { p256dh: 'BKey', auth: 'secret' } });
    expect(() => subscriptionBody({ endpoint: 'https://push.example/x' })).toThrow(/without its keys/);
  });
});
