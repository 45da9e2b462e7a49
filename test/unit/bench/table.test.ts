import { beforeAll, describe, expect, it } from 'vitest';
import { formatCount, formatFixed, formatRatio, ratio, renderTable } from '../../../bench/table.js';
import { renderIssuance, runIssuance, targetLine, type IssuanceResult, type PathKey } from '../../../bench/issuance.js';

describe('renderTable', () => {
  it('pads every column to its widest cell, text left and numbers right', () => {
    const text = renderTable(
      [{ header: 'path' }, { header: 'per second' }, { header: '× ours' }],
      [
        ['ours', '10,851', '1.00×'],
        ['openssl CLI', '108', '0.00991×'],
      ],
    );
    expect(text.split('\n')).toEqual([
      'path         per second    × ours',
      '-----------  ----------  --------',
      'ours             10,851     1.00×',
      'openssl CLI         108  0.00991×',
    ]);
  });

  it('counts µ and × as one column each and prints missing cells empty', () => {
    const lines = renderTable([{ header: 'µs' }, { header: 'x', align: 'left' }], [['1'], ['22', 'é']]).split('\n');
    expect(lines).toEqual(['µs  x', '--  -', '1', '22  é']);
  });
});

describe('number formatting', () => {
  const cases: { name: string; got: string; want: string }[] = [
    { name: 'count with separators', got: formatCount(12345.6), want: '12,346' },
    { name: 'count of null', got: formatCount(null), want: 'n/a' },
    { name: 'fixed digits', got: formatFixed(1234.567, 1), want: '1,234.6' },
    { name: 'fixed of NaN', got: formatFixed(Number.NaN, 2), want: 'n/a' },
    { name: 'ratio of equals', got: formatRatio(3000, 3000), want: '1.00×' },
    { name: 'ratio above ten', got: formatRatio(10851, 200), want: '54.3×' },
    { name: 'ratio below one', got: formatRatio(108, 10851), want: '0.00995×' },
    { name: 'ratio in thousands', got: formatRatio(12_000_000, 4000), want: '3,000×' },
    { name: 'ratio of zero', got: formatRatio(0, 5), want: '0×' },
    { name: 'ratio over a zero reference', got: formatRatio(5, 0), want: 'n/a' },
    { name: 'ratio with a missing side', got: formatRatio(undefined, 5), want: 'n/a' },
    { name: 'target met', got: targetLine(3000), want: 'EC P-256 including keygen: 3,000/s (target ≥ 3,000/s): PASS' },
    { name: 'target missed', got: targetLine(2999.4), want: 'EC P-256 including keygen: 2,999/s (target ≥ 3,000/s): BELOW' },
  ];
  it.each(cases)('$name', ({ got, want }) => expect(got).toBe(want));

  it('ratio is null where it has no meaning', () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(1, -1)).toBeNull();
    expect(ratio(Number.POSITIVE_INFINITY, 1)).toBeNull();
    expect(ratio(null, 1)).toBeNull();
  });
});

describe('issuance section, tiny run', () => {
  // A 50 ms budget: this checks the shape and that every path runs, never how fast it is.
  let result: IssuanceResult;
  beforeAll(async () => {
    result = await runIssuance({ budgetMs: 50, warmupMs: 5, csrPoolSize: 5 });
  });

  it('measures every path and reports positive figures', () => {
    const positive = (n: number | null): void => {
      expect(typeof n).toBe('number');
      expect(n).toBeGreaterThan(0);
    };
    positive(result.ecP256PerSec);
    positive(result.ecP256CsrPerSec);
    positive(result.rsa2048PerSec);
    expect(Object.keys(result.peers).sort()).toEqual(['nodeCryptoFloorEcPerSec', 'opensslCliEcPerSec', 'peculiarX509EcPerSec']);
    Object.values(result.peers).forEach(positive);
    expect(Object.keys(result.ratios).sort()).toEqual(['csrOverOurs', 'oursOverFloor', 'oursOverOpensslCli', 'oursOverPeculiarX509', 'rsaOverOurs']);
    Object.values(result.ratios).forEach(positive);
    const keys: PathKey[] = ['oursEc', 'oursEcCsr', 'oursRsa', 'peculiarX509Ec', 'opensslCliEc', 'nodeCryptoFloorEc'];
    expect(Object.keys(result.paths).sort()).toEqual([...keys].sort());
    for (const key of keys) {
      const m = result.paths[key];
      expect(m, key).not.toBeNull();
      expect(m?.ops, key).toBeGreaterThanOrEqual(1);
      expect(m?.wallMs, key).toBeGreaterThan(0);
      expect(m?.perSec, key).toBeGreaterThan(0);
      expect(m?.cpuUsPerOp, key).toBeGreaterThan(0);
    }
    expect(result.paths.oursRsa?.ops).toBeGreaterThanOrEqual(3);
    expect(result.target.ecP256PerSec).toBe(3000);
    expect(result.target.met).toBe(result.ecP256PerSec >= 3000);
    expect(result.versions.node).toBe(process.version);
    expect(result.versions.opensslCli).toMatch(/OpenSSL/);
  });

  it('survives a JSON round trip under its section name', () => {
    const doc = JSON.parse(JSON.stringify({ issuance: result })) as { issuance: IssuanceResult };
    expect(doc.issuance.ecP256PerSec).toBe(result.ecP256PerSec);
    expect(doc.issuance.peers.opensslCliEcPerSec).toBe(result.peers.opensslCliEcPerSec);
  });

  it('renders one row per path and the target line', () => {
    const text = renderIssuance(result);
    for (const label of ['ours: EC P-256, key generated', 'ours: EC P-256 from a CSR', 'ours: RSA-2048', '@peculiar/x509', 'openssl CLI', 'floor: node:crypto']) {
      expect(text).toContain(label);
    }
    expect(text).toMatch(/× ours +× floor/);
    expect(text.trimEnd().split('\n').at(-1)).toMatch(/^EC P-256 including keygen: [\d,]+\/s \(target ≥ 3,000\/s\): (PASS|BELOW)$/);
  });
});
