import { urlOptions } from './redis-client.js';

describe('urlOptions', () => {
  it('takes host, port, credentials and TLS from a Redis URL', () => {
    expect(urlOptions('redis://10.0.0.1:7000')).toEqual({ host: '10.0.0.1', port: 7000 });
    expect(urlOptions('redis://h')).toEqual({ host: 'h', port: 6379 });
    expect(urlOptions('rediss://user:p%40ss@cache.example:6380')).toEqual({ host: 'cache.example', port: 6380, username: 'user', password: 'p@ss', tls: {} });
  });
});
