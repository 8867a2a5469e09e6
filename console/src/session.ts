// The API key lives in this tab's sessionStorage: pasted once per browser session, gone when the tab
// closes, never sent anywhere but this service's own API.
const KEY = 'tokenmeter.key';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
