import { costShown, money } from '../format';

type Sums = Parameters<typeof costShown>[0];

/**
 * A reading's cost as a big figure, and under it what the cost leaves out (tokens of models not priced
 * yet), if anything: `<testId>-cost` and `<testId>-unpriced`.
 */
export function CostFigure({ sums, currency, testId }: { sums: Sums | null | undefined; currency: string | null; testId: string }) {
  const shown = sums ? costShown(sums, currency) : { cost: money('0', currency), unpriced: null };
  return (
    <>
      <p className="value big" data-testid={`${testId}-cost`}>
        {shown.cost}
      </p>
      {shown.unpriced !== null ? (
        <p className="sub" data-testid={`${testId}-unpriced`}>
          {shown.unpriced}: of models not priced yet, not in this cost until sales prices them
        </p>
      ) : null}
    </>
  );
}
