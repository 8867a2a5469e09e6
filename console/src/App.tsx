// The console: a key pasted once per browser session, then the pages that key's role may use. What a
// page shows or lets you do is exactly what the API answers for that key; the console adds no rights.
import { useCallback, useEffect, useState } from 'react';
import { ApiFailure, apiClient, ok, type Role, type TokenmeterClient, type Who } from './api';
import { forgetKey, storedKey, storeKey } from './session';
import { KeyForm } from './pages/KeyForm';
import { MeterPage } from './pages/MeterPage';
import { UsagePage } from './pages/UsagePage';
import { OperationsPage } from './pages/OperationsPage';
import { CatalogPage } from './pages/CatalogPage';
import { PlansPage } from './pages/PlansPage';
import { SubscriptionsPage } from './pages/SubscriptionsPage';
import { BudgetsPage } from './pages/BudgetsPage';
import { InvoicesPage } from './pages/InvoicesPage';
import { CreditsPage } from './pages/CreditsPage';
import { AccountPicker } from './components/AccountPicker';

export interface Session {
  client: TokenmeterClient;
  who: Who;
}

interface PageDef {
  path: string;
  title: string | ((role: Role) => string);
  roles: Role[];
  /** Reads one account: operators pick it. */
  perAccount: boolean;
  render: (session: Session, account: string) => React.ReactNode;
}

const READERS: Role[] = ['admin', 'sales', 'finance', 'member', 'agent'];
const SALES: Role[] = ['admin', 'sales'];
const BILLING: Role[] = ['admin', 'sales', 'finance'];

export const PAGES: PageDef[] = [
  { path: 'meter', title: (role) => (role === 'member' || role === 'agent' ? 'My meter' : 'Meter'), roles: READERS, perAccount: true, render: (s, a) => <MeterPage session={s} account={a} /> },
  { path: 'usage', title: 'Usage', roles: READERS, perAccount: true, render: (s, a) => <UsagePage session={s} account={a} /> },
  { path: 'operations', title: 'Operations', roles: READERS, perAccount: true, render: (s, a) => <OperationsPage session={s} account={a} /> },
  { path: 'budgets', title: 'Budgets', roles: ['admin', 'finance', 'member'], perAccount: true, render: (s, a) => <BudgetsPage session={s} account={a} /> },
  { path: 'invoices', title: 'Invoices', roles: BILLING, perAccount: true, render: (s, a) => <InvoicesPage session={s} account={a} /> },
  { path: 'credits', title: 'Credits', roles: BILLING, perAccount: true, render: (s, a) => <CreditsPage session={s} account={a} /> },
  { path: 'catalog', title: 'Models & prices', roles: SALES, perAccount: false, render: (s) => <CatalogPage session={s} /> },
  { path: 'plans', title: 'Plans', roles: SALES, perAccount: false, render: (s) => <PlansPage session={s} /> },
  { path: 'subscriptions', title: 'Subscriptions', roles: SALES, perAccount: false, render: (s) => <SubscriptionsPage session={s} /> },
];

function currentPath(): string {
  return window.location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
}

export function App() {
  const [key, setKey] = useState<string | null>(() => storedKey());
  const [session, setSession] = useState<Session | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [path, setPath] = useState(currentPath);
  const [account, setAccount] = useState<string | null>(null);

  useEffect(() => {
    const onHash = () => setPath(currentPath());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    if (key === null) return;
    let cancelled = false;
    const client = apiClient(key);
    ok(client.GET('/v1/api-keys/current'))
      .then((who) => {
        if (cancelled) return;
        setSession({ client, who });
        setAccount(who.account);
        setError(null);
      })
      .catch((failure: unknown) => {
        if (cancelled) return;
        forgetKey();
        setKey(null);
        setError(failure instanceof ApiFailure ? failure.message : 'The service could not be reached.');
      });
    return () => {
      cancelled = true;
    };
  }, [key]);

  // A page change moves keyboard and screen-reader focus to the new page's content.
  const [firstPath] = useState(path);
  useEffect(() => {
    if (path !== firstPath) document.getElementById('main')?.focus();
  }, [path, firstPath]);

  // The tab (and a screen reader's window title) names the page shown, as the heading does.
  const shownTitle = session === null ? null : (() => {
    if (path !== '' && !PAGES.some((d) => d.path === path)) return 'No such page';
    const p = PAGES.find((d) => d.path === path) ?? PAGES.find((d) => d.roles.includes(session.who.role));
    return p === undefined ? null : typeof p.title === 'string' ? p.title : p.title(session.who.role);
  })();
  useEffect(() => {
    document.title = shownTitle === null ? 'tokenmeter console' : `${shownTitle} · tokenmeter`;
  }, [shownTitle]);

  // At a phone's width the tabs scroll sideways: the current one is scrolled into sight (a page opened by its
  // address, Subscriptions say, was otherwise off to the right, and nothing showed where one was).
  useEffect(() => {
    const current = document.querySelector<HTMLElement>('.tabs a[aria-current="page"]');
    const bar = current?.closest<HTMLElement>('.tabs');
    if (!current || !bar) return;
    // Centred in the bar, measured against the bar itself (not offsetLeft, which is the page's).
    const inBar = current.getBoundingClientRect().left - bar.getBoundingClientRect().left + bar.scrollLeft;
    bar.scrollLeft = Math.max(0, inBar - bar.clientWidth / 2 + current.offsetWidth / 2);
  }, [path, session]);

  const signOut = useCallback(() => {
    forgetKey();
    setKey(null);
    setSession(null);
    setAccount(null);
  }, []);

  if (key === null) {
    return (
      <KeyForm
        error={error}
        onKey={(k) => {
          storeKey(k);
          setKey(k);
        }}
      />
    );
  }
  if (session === null) return <p className="loading" role="status">Checking the key…</p>;

  // The navigation offers the pages of the key's role; any page still opens by its address, and then the
  // API answers for it (a key that may not read it sees the service's refusal, not an empty page).
  const pages = PAGES.filter((p) => p.roles.includes(session.who.role));
  // An address naming no page (a typo, an old link) says so, instead of showing the first page under it.
  const unknown = path !== '' && !PAGES.some((p) => p.path === path);
  const page = PAGES.find((p) => p.path === path) ?? pages[0]!;
  const operator = session.who.account === null;
  const titleOf = (p: PageDef) => (typeof p.title === 'string' ? p.title : p.title(session.who.role));

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand" aria-label="tokenmeter">
          <span aria-hidden="true">◔</span> tokenmeter
        </span>
        <span className="who" data-testid="who">
          {session.who.role}
          {session.who.account ? ` · ${session.who.account}` : ''}
          {session.who.person_id ? ` · ${session.who.person_id}` : ''}
        </span>
        <button type="button" className="link" onClick={signOut}>
          Forget key
        </button>
      </header>
      <nav aria-label="Pages" className="tabs">
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              <a href={`#/${p.path}`} aria-current={p === page && !unknown ? 'page' : undefined}>
                {titleOf(p)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {unknown ? (
          <>
            <h1>No such page</h1>
            <p role="alert" data-testid="unknown-page">
              The console has no page “{path}”. The pages this key may use are above; <a href={`#/${pages[0]!.path}`}>{titleOf(pages[0]!)}</a> is the first.
            </p>
          </>
        ) : (
          <>
            <h1>{titleOf(page)}</h1>
            {page.perAccount && operator ? <AccountPicker session={session} value={account} onChange={setAccount} /> : null}
            {page.perAccount && account === null ? (
              <p data-testid="choose-account">Choose an account above to read its {titleOf(page).toLowerCase()}.</p>
            ) : (
              <div key={`${page.path}:${account ?? ''}`}>{page.render(session, account ?? '')}</div>
            )}
          </>
        )}
      </main>
    </div>
  );
}
