// The manifest (package.json `contributes`) and the code cannot drift: these read package.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, CONTEXT, GRAPH_VIEW_TYPE, IDENTITIES_VIEW, VIEW_CONTAINER } from '../../../src/extension/ids.js';
import { DEFAULT_SETTINGS } from '../../../src/extension/settings.js';

const root = join(__dirname, '..', '..', '..');

interface Step {
  id: string;
  title: string;
  description: string;
  media: { image?: string; altText?: string; markdown?: string };
  completionEvents?: string[];
}
interface Manifest {
  main: string;
  icon?: string;
  publisher: string;
  name: string;
  activationEvents: string[];
  contributes: {
    commands: { command: string; title: string; category?: string; icon?: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    viewsContainers: { activitybar: { id: string; icon: string }[] };
    views: Record<string, { id: string }[]>;
    viewsWelcome: { view: string; contents: string }[];
    configuration: { properties: Record<string, { default: unknown; type: string }> };
    jsonValidation: { fileMatch: string; url: string }[];
    walkthroughs: { id: string; steps: Step[] }[];
  };
}

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
const contributed = manifest.contributes.commands.map((c) => c.command);

/** `command:ID` and `command:ID?args` links in markdown. */
function commandLinks(text: string): string[] {
  return [...text.matchAll(/\(command:([A-Za-z0-9_.-]+)/g)].map((m) => m[1] as string);
}

describe('manifest', () => {
  it('activates lazily: never on *, nor on start-up', () => {
    expect(manifest.activationEvents).not.toContain('*');
    expect(manifest.activationEvents).not.toContain('onStartupFinished');
    expect(manifest.activationEvents).toEqual(expect.arrayContaining(['workspaceContains:mtls-lab.json', `onWebviewPanel:${GRAPH_VIEW_TYPE}`]));
  });

  it('points main at the esbuild bundle and ships a PNG icon', () => {
    expect(manifest.main).toBe('./dist/extension.js');
    expect(manifest.icon).toMatch(/\.png$/);
    expect(existsSync(join(root, manifest.icon as string))).toBe(true);
  });

  it('contributes exactly the commands the code defines, all under the category "mTLS Lab"', () => {
    expect([...contributed].sort()).toEqual(Object.values(COMMANDS).sort());
    for (const c of manifest.contributes.commands) {
      expect(c.category, c.command).toBe('mTLS Lab');
      expect(c.title.length, c.command).toBeGreaterThan(3);
    }
  });

  it('names only contributed commands in menus, welcome views and walkthroughs', () => {
    for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
      for (const item of items) expect(contributed, `${menu}: ${item.command}`).toContain(item.command);
    }
    const texts = [...manifest.contributes.viewsWelcome.map((v) => v.contents), ...manifest.contributes.walkthroughs.flatMap((w) => w.steps.map((s) => s.description))];
    for (const id of texts.flatMap(commandLinks).filter((id) => id.startsWith('mtlsLab.'))) expect(contributed).toContain(id);
  });

  it('gives every inline tree action and view-title button an icon', () => {
    const withIcon = new Set(manifest.contributes.commands.filter((c) => c.icon !== undefined).map((c) => c.command));
    for (const item of [...(manifest.contributes.menus['view/title'] ?? []), ...(manifest.contributes.menus['view/item/context'] ?? [])]) {
      expect(withIcon.has(item.command), item.command).toBe(true);
    }
  });

  it('offers inspect on .pem files in the explorer, start on mtls-lab.json, inject on folders', () => {
    const explorer = manifest.contributes.menus['explorer/context'] ?? [];
    expect(explorer.find((m) => m.command === COMMANDS.inspectCertificate)?.when).toMatch(/pem/);
    expect(explorer.find((m) => m.command === COMMANDS.startMeshFromConfig)?.when).toMatch(/mtls-lab\.json/);
    expect(explorer.find((m) => m.command === COMMANDS.injectCertificates)?.when).toMatch(/explorerResourceIsFolder/);
  });

  it('declares the identities view in its own container, with a welcome for when no mesh runs', () => {
    const container = manifest.contributes.viewsContainers.activitybar.find((c) => c.id === VIEW_CONTAINER);
    expect(container).toBeDefined();
    expect(existsSync(join(root, container?.icon as string))).toBe(true);
    expect(manifest.contributes.views[VIEW_CONTAINER]?.map((v) => v.id)).toEqual([IDENTITIES_VIEW]);
    const welcome = manifest.contributes.viewsWelcome.find((v) => v.view === IDENTITIES_VIEW);
    expect(commandLinks(welcome?.contents ?? '')).toEqual(expect.arrayContaining([COMMANDS.startSampleMesh, COMMANDS.startMeshFromConfig]));
  });

  it('has settings for trust domain, TTL, key type and the demo preset, with the code\'s defaults', () => {
    const p = manifest.contributes.configuration.properties;
    expect(p['mtlsLab.trustDomain']?.default).toBe(DEFAULT_SETTINGS.trustDomain);
    expect(p['mtlsLab.svidTtl']?.default).toBe(DEFAULT_SETTINGS.svidTtl);
    expect(p['mtlsLab.keyType']?.default).toBe(DEFAULT_SETTINGS.keyType);
    expect(p['mtlsLab.demoPreset']?.default).toBe(DEFAULT_SETTINGS.demoPreset);
    expect(p['mtlsLab.stateFolder']?.default).toBe(DEFAULT_SETTINGS.stateFolder);
  });

  it('validates mtls-lab.json with the shipped schema', () => {
    const v = manifest.contributes.jsonValidation.find((j) => j.fileMatch === 'mtls-lab.json');
    expect(v?.url).toBe('./schema/mtls-lab.schema.json');
    expect(existsSync(join(root, 'schema', 'mtls-lab.schema.json'))).toBe(true);
  });
});

describe('walkthrough', () => {
  const walkthrough = manifest.contributes.walkthroughs[0];
  const steps = walkthrough?.steps ?? [];
  const contextKeys = new Set<string>(Object.values(CONTEXT));

  it('has at least five steps covering the lab', () => {
    expect(steps.length).toBeGreaterThanOrEqual(5);
    const titles = steps.map((s) => s.title.toLowerCase()).join(' | ');
    for (const topic of ['sample mesh', 'rotation', 'impostor', 'policy', 'your own service']) expect(titles).toContain(topic);
  });

  for (const step of steps) {
    describe(step.id, () => {
      it('links to at least one command', () => {
        const links = commandLinks(step.description);
        expect(links.length).toBeGreaterThan(0);
        expect(links.some((l) => contributed.includes(l))).toBe(true);
      });

      it('shows an image that exists, with alt text', () => {
        expect(step.media.image).toBeDefined();
        expect(existsSync(join(root, step.media.image as string))).toBe(true);
        expect((step.media.altText ?? '').length).toBeGreaterThan(20);
        // The SVG carries the same description for anyone who opens it directly.
        expect(readFileSync(join(root, step.media.image as string), 'utf8')).toMatch(/<title>[^<]{20,}<\/title>/);
      });

      it('completes on an event the extension raises', () => {
        expect(step.completionEvents?.length ?? 0).toBeGreaterThan(0);
        for (const e of step.completionEvents ?? []) {
          const [kind, name] = e.split(':') as [string, string];
          if (kind === 'onCommand') expect(contributed).toContain(name);
          else if (kind === 'onContext') expect(contextKeys.has(name), e).toBe(true);
          else throw new Error(`unexpected completion event ${e}`);
        }
      });
    });
  }
});
