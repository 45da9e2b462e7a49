// A small fixed-width table printer for benchmark results: columns aligned, numbers right-aligned,
// and ratios written as "N×" against a named reference row.

export type Align = 'left' | 'right';

export interface Column {
  readonly header: string;
  /** Default: left for the first column, right for the rest (they hold numbers). */
  readonly align?: Align;
}

const GAP = '  ';

/** Visible width: counts code points, so "µ", "×" and "≥" take one column each. */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * Renders rows under their headers with every column padded to its widest cell and a dashed rule
 * under the headers. Missing cells print empty; trailing spaces are trimmed from every line.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const aligns = columns.map((c, i) => c.align ?? (i === 0 ? 'left' : 'right'));
  const widths = columns.map((c, i) => Math.max(width(c.header), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    columns
      .map((_, i) => pad(cells[i] ?? '', widths[i] ?? 0, aligns[i] ?? 'right'))
      .join(GAP)
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join(GAP);
  return [line(columns.map((c) => c.header)), rule, ...rows.map(line)].join('\n');
}

/** An integer with thousands separators ("12,345"); "n/a" for a missing or non-finite value. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return Math.round(value).toLocaleString('en-US');
}

/** A decimal with a fixed number of fraction digits and thousands separators ("1,234.5"). */
export function formatFixed(value: number | null | undefined, digits: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * `value / reference` as "N×" with three significant digits ("11.2×", "1.00×", "0.0834×"), and
 * whole numbers with separators from 1,000× up. "n/a" when either side is missing, not finite, or
 * the reference is not positive.
 */
export function formatRatio(value: number | null | undefined, reference: number | null | undefined): string {
  const r = ratio(value, reference);
  if (r === null) return 'n/a';
  if (r >= 1000) return `${formatCount(r)}×`;
  if (r === 0) return '0×';
  return `${r.toPrecision(3)}×`;
}

/** `value / reference`, or null when it has no meaning (missing values, reference ≤ 0). */
export function ratio(value: number | null | undefined, reference: number | null | undefined): number | null {
  if (value === null || value === undefined || reference === null || reference === undefined) return null;
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) return null;
  return value / reference;
}
