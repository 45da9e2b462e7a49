// The status bar item's content from the store: mesh state, time to the next rotation, rejected calls.
import type { StoreView } from './meshStore.js';
import { renewalDue, shortDuration } from './timeText.js';

export interface StatusContent {
  readonly text: string;
  readonly tooltip: string;
  /** For screen readers: the same facts in words. */
  readonly accessibilityLabel: string;
  /** A theme color id for the background, when something needs attention. */
  readonly background?: 'statusBarItem.warningBackground' | 'statusBarItem.errorBackground';
}

/** The earliest time any service's SVID is due for renewal, or undefined when there are none. */
export function nextRotation(view: StoreView): number | undefined {
  let next: number | undefined;
  for (const s of view.snapshot?.services ?? []) {
    const due = renewalDue(s.notBefore, s.notAfter);
    if (!Number.isNaN(due) && (next === undefined || due < next)) next = due;
  }
  return next;
}

/** What the status bar says now. */
export function statusContent(view: StoreView, now: number): StatusContent {
  const click = 'Click to open the mesh graph.';
  switch (view.state) {
    case 'stopped':
      return { text: '$(shield) mTLS: stopped', tooltip: `mTLS Lab: no mesh is running. ${click}`, accessibilityLabel: 'mTLS Lab: no mesh is running' };
    case 'starting':
      return { text: '$(loading~spin) mTLS: starting', tooltip: 'mTLS Lab: the mesh is starting.', accessibilityLabel: 'mTLS Lab: the mesh is starting' };
    case 'stopping':
      return { text: '$(loading~spin) mTLS: stopping', tooltip: 'mTLS Lab: the mesh is stopping.', accessibilityLabel: 'mTLS Lab: the mesh is stopping' };
    case 'running': {
      const services = view.snapshot?.services.length ?? 0;
      const due = nextRotation(view);
      const rotation = due === undefined ? undefined : due <= now ? 'now' : shortDuration(due - now);
      const parts = ['$(shield) mTLS: running'];
      if (rotation !== undefined) parts.push(`$(sync) ${rotation}`);
      parts.push(`$(circle-slash) ${view.rejected}`);
      const rejectedWords = `${view.rejected} rejected call${view.rejected === 1 ? '' : 's'}`;
      const rotationWords = rotation === undefined ? 'no SVIDs yet' : rotation === 'now' ? 'a rotation is due now' : `next rotation in ${rotation}`;
      const td = view.snapshot === undefined ? '' : ` in trust domain ${view.snapshot.trustDomain}`;
      return {
        text: parts.join(' '),
        tooltip: `mTLS Lab: ${services} service${services === 1 ? '' : 's'} running${td}; ${rotationWords}; ${rejectedWords}. ${click}`,
        accessibilityLabel: `mTLS Lab mesh running; ${rotationWords}; ${rejectedWords}`,
      };
    }
  }
}
