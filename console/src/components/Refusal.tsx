import { ApiFailure } from '../api';

/**
 * What the API refused, said plainly: the console never decides what a key may read, so a page whose data
 * the key may not have shows the service's own sentence (and its code) instead.
 */
export function Refusal({ failure, what }: { failure: unknown; what: string }) {
  const f = failure instanceof ApiFailure ? failure : null;
  const title = f?.status === 403 ? `This key may not read ${what}.` : f?.status === 404 ? `No ${what} here.` : `Could not read ${what}.`;
  return (
    <div className="refusal" role="alert" data-testid="refusal">
      <p>
        <strong>{title}</strong>
      </p>
      <p>{f ? f.message : 'The service could not be reached.'}</p>
      {f ? (
        <p className="sub">
          The service answered {f.status} <code>{f.code}</code>.
        </p>
      ) : null}
    </div>
  );
}
