// The canvas cannot read CSS variables, so the graph asks for the theme's colours here: style.css
// maps them from --vscode-* (inside VS Code) or from its own light/dark values (in a browser),
// and this file resolves them to rgb() strings and says when they change.

export interface Palette {
  readonly bg: string;
  readonly fg: string;
  readonly muted: string;
  readonly border: string;
  readonly nodeBg: string;
  readonly ok: string;
  readonly bad: string;
  readonly warn: string;
  readonly accent: string;
  readonly idle: string;
  /** High contrast themes set it; elsewhere it is transparent. */
  readonly contrast: string;
  readonly highContrast: boolean;
  readonly fontFamily: string;
}

const VARS: Readonly<Record<Exclude<keyof Palette, 'highContrast' | 'fontFamily'>, string>> = {
  bg: '--lab-bg',
  fg: '--lab-fg',
  muted: '--lab-muted',
  border: '--lab-border',
  nodeBg: '--lab-node-bg',
  ok: '--lab-ok',
  bad: '--lab-bad',
  warn: '--lab-warn',
  accent: '--lab-accent',
  idle: '--lab-idle',
  contrast: '--lab-contrast',
};

/** Reads the palette from the document's computed style, each colour normalized by the browser. */
export function readPalette(doc: Document): Palette {
  const root = doc.documentElement;
  const style = getComputedStyle(root);
  const probe = doc.createElement('span');
  probe.hidden = true;
  doc.body.appendChild(probe);
  const resolve = (name: string, fallback: string): string => {
    const raw = style.getPropertyValue(name).trim();
    probe.style.color = fallback;
    if (raw !== '') probe.style.color = raw;
    return getComputedStyle(probe).color || fallback;
  };
  const out: Record<string, string> = {};
  for (const [key, name] of Object.entries(VARS)) out[key] = resolve(name, key === 'contrast' ? 'transparent' : '#808080');
  probe.remove();
  const classes = doc.body.classList;
  const highContrast = classes.contains('vscode-high-contrast') || classes.contains('vscode-high-contrast-light');
  const fontFamily = getComputedStyle(doc.body).fontFamily || 'system-ui, sans-serif';
  return { ...(out as Record<keyof typeof VARS, string>), highContrast, fontFamily };
}

/** Calls `listener` when the theme may have changed: VS Code swaps body classes and root variables, a browser flips its colour scheme. */
export function onThemeChange(win: Window, listener: () => void): () => void {
  const observer = new MutationObserver(() => listener());
  observer.observe(win.document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
  // VS Code writes the --vscode-* values into the root element's style when the theme changes.
  observer.observe(win.document.documentElement, { attributes: true, attributeFilter: ['style'] });
  const media = win.matchMedia('(prefers-color-scheme: dark)');
  const onMedia = (): void => listener();
  media.addEventListener('change', onMedia);
  return () => {
    observer.disconnect();
    media.removeEventListener('change', onMedia);
  };
}
