import { describe, expect, it } from 'vitest';
import { nextRotation, statusContent } from '../../../src/extension/statusText.js';
import { iso, service, snapshot, T0 } from './fakeMesh.js';

describe('statusContent', () => {
  const rows = [
    { name: 'stopped', view: { state: 'stopped' as const, snapshot: undefined, rejected: 0 }, text: '$(shield) mTLS: stopped' },
    { name: 'starting', view: { state: 'starting' as const, snapshot: undefined, rejected: 0 }, text: '$(loading~spin) mTLS: starting' },
    { name: 'stopping', view: { state: 'stopping' as const, snapshot: snapshot(), rejected: 0 }, text: '$(loading~spin) mTLS: stopping' },
    { name: 'running, nothing rejected', view: { state: 'running' as const, snapshot: snapshot(), rejected: 0 }, text: '$(shield) mTLS: running $(sync) 20m $(circle-slash) 0' },
    { name: 'running, 3 rejected', view: { state: 'running' as const, snapshot: snapshot(), rejected: 3 }, text: '$(shield) mTLS: running $(sync) 20m $(circle-slash) 3' },
    {
      name: 'a rotation due now',
      view: { state: 'running' as const, snapshot: snapshot({ services: [service('a', { notBefore: iso(T0 - 60_000), notAfter: iso(T0 + 30_000) })] }), rejected: 1 },
      text: '$(shield) mTLS: running $(sync) now $(circle-slash) 1',
    },
    { name: 'running with no services', view: { state: 'running' as const, snapshot: snapshot({ services: [] }), rejected: 0 }, text: '$(shield) mTLS: running $(circle-slash) 0' },
  ];
  for (const r of rows) {
    it(r.name, () => {
      expect(statusContent(r.view, T0).text).toBe(r.text);
    });
  }

  it('says the same in words for screen readers and in the tooltip', () => {
    const c = statusContent({ state: 'running', snapshot: snapshot(), rejected: 1 }, T0);
    expect(c.accessibilityLabel).toBe('mTLS Lab mesh running; next rotation in 20m; 1 rejected call');
    expect(c.tooltip).toContain('3 services running in trust domain lab.local');
    expect(c.tooltip).toContain('open the mesh graph');
  });

  it('next rotation is the earliest half-life of any SVID', () => {
    const view = { state: 'running' as const, rejected: 0, snapshot: snapshot({ services: [service('a'), service('b', { notBefore: iso(T0), notAfter: iso(T0 + 120_000) })] }) };
    expect(nextRotation(view)).toBe(T0 + 60_000);
  });
});
