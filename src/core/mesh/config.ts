// mtls-lab.json: read with positions, checked against the shipped JSON Schema (the same file the
// editor validates with, so the two cannot drift), then against what a schema cannot say
// (unknown names, duplicates, trust domains), and resolved into MeshConfig.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import schemaDocument from '../../../schema/mtls-lab.schema.json';
import { DurationError, formatDuration, parseDuration } from '../duration.js';
import type { KeyType } from '../pki/keys.js';
import { DEFAULT_DENY, PERMISSIVE_PLAINTEXT, Policy } from '../policy/policy.js';
import type { CallerSelector, PolicyMode, PolicyRule } from '../policy/policy.js';
import { SpiffeError, SpiffeId, TrustDomain, parseWorkloadId, workloadId } from '../spiffe/index.js';

// ---------------------------------------------------------------------------------------------
// The file as written. Every property here is documented in schema/mtls-lab.schema.json, and a
// test walks the schema to keep the two in step.

export type ServiceMode = 'sidecar' | 'native';
export type ReloadSignal = 'SIGHUP' | 'SIGUSR1' | 'SIGUSR2';

/** mtls-lab.json as a person writes it; see the schema for what each field means. */
export interface MeshConfigFile {
  readonly $schema?: string;
  readonly trustDomain?: string;
  readonly ttl?: string;
  readonly keyType?: KeyType;
  readonly intermediate?: boolean;
  readonly mode?: PolicyMode;
  readonly services: readonly ServiceConfigFile[];
  readonly policy?: PolicyConfigFile;
}

export interface ServiceConfigFile {
  readonly name: string;
  readonly command: readonly string[];
  readonly cwd?: string;
  readonly port?: number;
  readonly meshPort?: number;
  readonly entry?: boolean;
  readonly mode?: ServiceMode;
  readonly namespace?: string;
  readonly spiffeId?: string;
  readonly upstreams?: readonly UpstreamConfigFile[];
  readonly env?: Readonly<Record<string, string>>;
  readonly reload?: ReloadConfig;
}

/** A service name, or the object form that fixes the local port. */
export type UpstreamConfigFile = string | UpstreamObjectFile;

export interface UpstreamObjectFile {
  readonly service: string;
  readonly localPort?: number;
}

/** How a service that reads its own SVID files learns they were rotated (as spiffe-helper does it). */
export type ReloadConfig = ReloadSignalConfig | ReloadCommandConfig;

export interface ReloadSignalConfig {
  readonly signal: ReloadSignal;
}

export interface ReloadCommandConfig {
  /** Program and arguments, run without a shell in the service's cwd. */
  readonly command: readonly string[];
}

export interface PolicyConfigFile {
  readonly rules?: readonly PolicyRuleFile[];
}

/** A rule as written: service names or SPIFFE IDs (and, for `from`, a trust domain). */
export interface PolicyRuleFile {
  readonly name: string;
  readonly from: string | readonly string[] | MemberOfFile;
  readonly to: string | readonly string[];
}

export interface MemberOfFile {
  readonly memberOf: string;
}

// ---------------------------------------------------------------------------------------------
// The resolved form: defaults filled, names turned into SPIFFE IDs, paths made absolute.

export interface MeshConfig {
  /** What the config was read from, as messages name it (the path as given, or a label). */
  readonly source: string;
  /** The folder relative paths in the file are resolved against: the config file's folder. */
  readonly configDir: string;
  readonly trustDomain: TrustDomain;
  readonly ttlMs: number;
  readonly keyType: KeyType;
  readonly intermediate: boolean;
  readonly mode: PolicyMode;
  /** In file order; names and SPIFFE IDs are unique. */
  readonly services: readonly ServiceConfig[];
  readonly policy: MeshPolicyConfig;
  /** Things that are allowed but probably not meant, e.g. an upstream the policy denies. */
  readonly warnings: readonly ConfigProblem[];
}

export interface ServiceConfig {
  readonly name: string;
  readonly command: readonly string[];
  /** Absolute. */
  readonly cwd: string;
  /** 0: pick a free port at start. */
  readonly port: number;
  /** Sidecar mode: where the sidecar accepts mTLS; 0 picks one. Always 0 for a native service. */
  readonly meshPort: number;
  readonly entry: boolean;
  readonly mode: ServiceMode;
  /** The namespace the default SPIFFE ID was built from ('default' when not given). */
  readonly namespace: string;
  readonly spiffeId: SpiffeId;
  readonly upstreams: readonly UpstreamConfig[];
  readonly env: Readonly<Record<string, string>>;
  readonly reload?: ReloadConfig;
}

export interface UpstreamConfig {
  readonly service: string;
  /** The ID the caller's sidecar expects the upstream to present. */
  readonly spiffeId: SpiffeId;
  /** Sidecar mode: the local plain port for this upstream; 0 picks one. */
  readonly localPort: number;
}

export interface MeshPolicyConfig {
  /** In file order, every service name replaced by its SPIFFE ID; feed to `new Policy({mode, rules})`. */
  readonly rules: readonly PolicyRule[];
}

export const DEFAULT_CONFIG_FILE = 'mtls-lab.json';
export const DEFAULT_TRUST_DOMAIN = 'lab.local';
export const DEFAULT_TTL = '1h';
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256';
export const DEFAULT_NAMESPACE = 'default';
export const MAX_TTL_MS = 24 * 3_600_000;
const MIN_TTL_MS = 1000;

// ---------------------------------------------------------------------------------------------
// Errors.

export type ConfigErrorCode = 'bad-config' | 'no-config';

/** One thing wrong (or suspicious) in a config, located for an editor. */
export interface ConfigProblem {
  readonly severity: 'error' | 'warning';
  /** A full sentence: `config: <source>: <path> <what is wrong>; <the fix>.` */
  readonly message: string;
  /** JSON path such as `services[2].upstreams[0]`; '' for the whole file. */
  readonly path: string;
  /** 1-based, in UTF-16 code units as editors count. */
  readonly line: number;
  readonly column: number;
}

/** The config cannot be used. `message` is the first problem; `problems` holds them all. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly code: ConfigErrorCode,
    message: string,
    readonly problems: readonly ConfigProblem[] = [],
  ) {
    super(message);
  }

  /** The JSON path of the first problem, '' for the whole file. */
  get path(): string {
    return this.problems[0]?.path ?? '';
  }
}

// ---------------------------------------------------------------------------------------------
// JSON with positions. JSON.parse reports neither line:column (portably) nor duplicate keys, and
// every later problem wants a place in the file; config files are small, so a plain reader it is.

type Segment = string | number;

interface JsonDocument {
  readonly value: unknown;
  /** JSON pointer → offset where its value starts. */
  readonly valueAt: ReadonlyMap<string, number>;
  /** JSON pointer of an object member → offset of its key. */
  readonly keyAt: ReadonlyMap<string, number>;
  readonly duplicates: readonly { readonly path: readonly Segment[]; readonly key: string; readonly offset: number }[];
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WORD = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function pointerOf(path: readonly Segment[]): string {
  let out = '';
  for (const s of path) out += `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`;
  return out;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `services[2].upstreams[0]`, `services[0].env["MY-VAR"]`. */
function displayPath(path: readonly Segment[]): string {
  let out = '';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (IDENTIFIER.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

class JsonReader {
  private i: number;
  private readonly valueAt = new Map<string, number>();
  private readonly keyAt = new Map<string, number>();
  private readonly duplicates: { path: readonly Segment[]; key: string; offset: number }[] = [];

  constructor(
    private readonly text: string,
    private readonly where: (offset: number) => string,
  ) {
    this.i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  }

  read(): JsonDocument {
    this.skipSpace();
    if (this.i >= this.text.length) {
      throw new JsonSyntaxError(this.i, 'the file is empty; write a JSON object such as {"services": [{"name": "orders", "command": ["node", "server.js"]}]}.');
    }
    const value = this.value([], 0);
    this.skipSpace();
    if (this.i < this.text.length) {
      throw new JsonSyntaxError(this.i, `${this.found()} follows the end of the top-level value; remove it, or wrap everything in one object.`);
    }
    return { value, valueAt: this.valueAt, keyAt: this.keyAt, duplicates: this.duplicates };
  }

  private value(path: Segment[], depth: number): unknown {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError(this.i, `values nest deeper than ${MAX_DEPTH} levels; a mesh config never needs that many.`);
    this.valueAt.set(pointerOf(path), this.i);
    const c = this.text[this.i];
    switch (c) {
      case '{':
        return this.object(path, depth);
      case '[':
        return this.array(path, depth);
      case '"':
        return this.string();
      case undefined:
        throw new JsonSyntaxError(this.i, 'the file ends where a value should be; finish it, e.g. with "", 0, [] or {}.');
      default:
        break;
    }
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, literal] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.text.startsWith(word, this.i) && !/[A-Za-z0-9_]/.test(this.text[this.i + word.length] ?? '')) {
        this.i += word.length;
        return literal;
      }
    }
    throw new JsonSyntaxError(this.i, this.notAValue());
  }

  private notAValue(): string {
    const c = this.text[this.i] ?? '';
    if (c === '/') return 'JSON has no comments; remove the comment (mtls-lab.json is plain JSON).';
    if (c === "'") return 'JSON strings use double quotes; write "text", not \'text\'.';
    if (c === '}' || c === ']') return `${this.found()} where a value should be; remove the comma before it, or add the missing value.`;
    WORD.lastIndex = this.i;
    const word = WORD.exec(this.text)?.[0];
    if (word !== undefined) {
      return `${JSON.stringify(word)} is not a JSON value; write true, false, null, a number, or text in double quotes such as ${JSON.stringify(word)}.`;
    }
    if (c === '+' || c === '.') return `${this.found()} cannot start a JSON number; write numbers like 8080 or 0.5.`;
    return `${this.found()} where a value should be; expected a string, number, object, array, true, false or null.`;
  }

  private object(path: Segment[], depth: number): Record<string, unknown> {
    const open = this.i;
    this.i++;
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.skipSpace();
    if (this.text[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      const c = this.text[this.i];
      if (c !== '"') throw new JsonSyntaxError(this.i, this.notAKey(open, c));
      const keyOffset = this.i;
      const key = this.string();
      const member = [...path, key];
      if (seen.has(key)) this.duplicates.push({ path, key, offset: keyOffset });
      seen.add(key);
      this.keyAt.set(pointerOf(member), keyOffset);
      this.skipSpace();
      if (this.text[this.i] !== ':') {
        throw new JsonSyntaxError(this.i, `expected ":" after the property name ${JSON.stringify(key)} but found ${this.found()}; write "${key}": value.`);
      }
      this.i++;
      this.skipSpace();
      // defineProperty keeps "__proto__" an ordinary key instead of a prototype swap.
      Object.defineProperty(out, key, { value: this.value(member, depth + 1), enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const next = this.text[this.i];
      if (next === ',') {
        this.i++;
        continue;
      }
      if (next === '}') {
        this.i++;
        return out;
      }
      if (next === undefined) throw new JsonSyntaxError(this.i, `the file ends before the object opened at ${this.where(open)} is closed; add "}".`);
      throw new JsonSyntaxError(this.i, `expected "," or "}" after the value of ${JSON.stringify(key)} but found ${this.found()}; add a comma between properties.`);
    }
  }

  private notAKey(open: number, c: string | undefined): string {
    if (c === undefined) return `the file ends before the object opened at ${this.where(open)} is closed; add "}".`;
    if (c === '}') return 'a comma comes before "}"; JSON allows no comma after the last property, so remove it.';
    if (c === '/') return 'JSON has no comments; remove the comment (mtls-lab.json is plain JSON).';
    if (c === "'") return 'property names use double quotes in JSON; write "name", not \'name\'.';
    WORD.lastIndex = this.i;
    const word = WORD.exec(this.text)?.[0];
    if (word !== undefined) return `the property name ${word} needs double quotes; write "${word}".`;
    return `expected a property name in double quotes but found ${this.found()}.`;
  }

  private array(path: Segment[], depth: number): unknown[] {
    const open = this.i;
    this.i++;
    const out: unknown[] = [];
    this.skipSpace();
    if (this.text[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] === ']') throw new JsonSyntaxError(this.i, 'a comma comes before "]"; JSON allows no comma after the last item, so remove it.');
      if (this.text[this.i] === undefined) throw new JsonSyntaxError(this.i, `the file ends before the array opened at ${this.where(open)} is closed; add "]".`);
      out.push(this.value([...path, out.length], depth + 1));
      this.skipSpace();
      const next = this.text[this.i];
      if (next === ',') {
        this.i++;
        continue;
      }
      if (next === ']') {
        this.i++;
        return out;
      }
      if (next === undefined) throw new JsonSyntaxError(this.i, `the file ends before the array opened at ${this.where(open)} is closed; add "]".`);
      throw new JsonSyntaxError(this.i, `expected "," or "]" after an array item but found ${this.found()}; add a comma between items.`);
    }
  }

  private string(): string {
    const open = this.i;
    this.i++;
    let out = '';
    let run = this.i;
    for (;;) {
      const c = this.text.charCodeAt(this.i);
      if (Number.isNaN(c)) throw new JsonSyntaxError(open, 'this string is never closed; add the closing double quote.');
      if (c === 0x22) {
        out += this.text.slice(run, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) {
        throw new JsonSyntaxError(this.i, 'a string holds a raw line break or control character; close the string before the line ends, or write \\n or \\t.');
      }
      if (c === 0x5c) {
        out += this.text.slice(run, this.i);
        out += this.escape();
        run = this.i;
        continue;
      }
      this.i++;
    }
  }

  private escape(): string {
    const at = this.i;
    const e = this.text[this.i + 1] ?? '';
    if (e === 'u') {
      const hex = this.text.slice(this.i + 2, this.i + 6);
      if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw new JsonSyntaxError(at, 'a \\u escape needs four hex digits, e.g. \\u00e9.');
      this.i += 6;
      return String.fromCharCode(Number.parseInt(hex, 16));
    }
    const plain = ESCAPES[e];
    if (plain === undefined) {
      throw new JsonSyntaxError(at, `\\${e} is not a JSON escape; use \\\\ for a backslash (Windows paths can use "/" instead), or one of \\" \\n \\t \\u00e9.`);
    }
    this.i += 2;
    return plain;
  }

  private number(): number {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.text);
    const after = m === null ? this.i : this.i + m[0].length;
    if (m === null || m[0] === '-' || /[0-9A-Za-z.]/.test(this.text[after] ?? '')) {
      const token = /^[-+0-9A-Za-z.]+/.exec(this.text.slice(this.i))?.[0] ?? this.text[this.i] ?? '';
      throw new JsonSyntaxError(this.i, `${JSON.stringify(token)} is not a JSON number; write decimal numbers without leading zeros, e.g. 8080.`);
    }
    this.i = after;
    return Number(m[0]);
  }

  private skipSpace(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else return;
    }
  }

  private found(): string {
    const c = this.text.codePointAt(this.i);
    if (c === undefined) return 'the end of the file';
    const ch = String.fromCodePoint(c);
    return c >= 0x20 && c < 0x7f ? JSON.stringify(ch) : `${JSON.stringify(ch)} (U+${c.toString(16).toUpperCase().padStart(4, '0')})`;
  }
}

/** Offsets → 1-based line and column. */
class LineMap {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0x0a) this.starts.push(i + 1);
  }

  at(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }
}

// ---------------------------------------------------------------------------------------------
// Problems, located and worded.

class Problems {
  readonly list: ConfigProblem[] = [];

  constructor(
    private readonly source: string,
    private readonly doc: JsonDocument,
    private readonly lines: LineMap,
  ) {}

  /**
   * `text` continues the sentence after the path, e.g. `is 8080; ...`, or after `path:` when it
   * starts with ":". `keyOf` places the problem on that member's key instead of on `path`'s value.
   */
  error(path: readonly Segment[], text: string, options: { keyOf?: string; severity?: 'error' | 'warning' } = {}): void {
    const offset = (options.keyOf === undefined ? undefined : this.doc.keyAt.get(pointerOf([...path, options.keyOf]))) ?? this.nearestValue(path);
    const { line, column } = this.lines.at(offset);
    const shown = displayPath(path);
    const subject = shown === '' ? 'the config' : shown;
    const sentence = text.startsWith(':') ? `${subject}${text}` : `${subject} ${text}`;
    this.list.push({
      severity: options.severity ?? 'error',
      message: `config: ${this.source}: ${finish(sentence)}`,
      path: shown,
      line,
      column,
    });
  }

  warn(path: readonly Segment[], text: string): void {
    this.error(path, text, { severity: 'warning' });
  }

  get errors(): readonly ConfigProblem[] {
    return this.list.filter((p) => p.severity === 'error');
  }

  get warnings(): readonly ConfigProblem[] {
    return this.list.filter((p) => p.severity === 'warning');
  }

  private nearestValue(path: readonly Segment[]): number {
    for (let n = path.length; n >= 0; n--) {
      const offset = this.doc.valueAt.get(pointerOf(path.slice(0, n)));
      if (offset !== undefined) return offset;
    }
    return 0;
  }
}

function finish(sentence: string): string {
  return /[.?!]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** Lowercases the first letter of a schema message so it can follow "; ". */
function clause(message: string): string {
  // "A port is…" → "a port is…", but "SPIFFE IDs…" keeps its capitals.
  return /^[A-Z](?:[a-z]|\s)/.test(message) ? message.charAt(0).toLowerCase() + message.slice(1) : message;
}

function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty object' : 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 60)}…${value.slice(-15)}` : value);
  return String(value);
}

/** JSON on one line with a space after commas and colons, for examples inside messages. */
function inline(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1) ?? ''}`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The candidate a typo most likely meant, if any is close enough. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Checks that live in the schema as `format`s, so the schema pass reports them in place, with the
// parsers' own messages (SpiffeId.parse names the broken rule and a repair).

const SERVICE_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,61}[a-z0-9])?$/;

function looksLikeId(text: string): boolean {
  return text.includes('://') || text.slice(0, 7).toLowerCase() === 'spiffe:';
}

function spiffeMessage(err: unknown): string {
  if (err instanceof SpiffeError) return err.message.replace(/^spiffe: /, '');
  throw err;
}

function ttlProblem(text: string): string | undefined {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (err) {
    if (err instanceof DurationError) return `: ${err.message.replace(/^duration: /, '')}`;
    throw err;
  }
  if (ms > MAX_TTL_MS) {
    return `is ${shown(text)}, longer than 24h; SVIDs live at most 24h (SPIFFE recommends 1h or less), so use e.g. "1h"`;
  }
  if (ms < MIN_TTL_MS) return `is ${shown(text)}, shorter than 1s; an SVID lives from 1s to 24h, so use e.g. "30s"`;
  if (ms % 1000 !== 0) {
    return `is ${shown(text)}, which is not a whole number of seconds; certificate times count whole seconds, so use e.g. "${formatDuration(Math.round(ms / 1000) * 1000)}"`;
  }
  return undefined;
}

const FORMATS: Readonly<Record<string, (text: string) => string | undefined>> = {
  'svid-ttl': ttlProblem,
  'trust-domain': (text) => {
    try {
      TrustDomain.parse(text);
      return undefined;
    } catch (err) {
      return `: ${spiffeMessage(err)}`;
    }
  },
  'spiffe-workload-id': (text) => {
    try {
      parseWorkloadId(text);
      return undefined;
    } catch (err) {
      return `: ${spiffeMessage(err)}`;
    }
  },
  'mesh-peer': (text) => {
    if (looksLikeId(text)) return FORMATS['spiffe-workload-id']?.(text);
    if (SERVICE_NAME.test(text)) return undefined;
    const repaired = repairName(text);
    const hint = repaired === undefined ? '' : ` (try "${repaired}")`;
    return `is ${shown(text)}, which is neither a service name nor a SPIFFE ID; name a service (lowercase letters, digits, ".", "-" and "_")${hint}, or give an ID such as "spiffe://lab.local/ns/default/sa/orders"`;
  },
};

function repairName(text: string): string | undefined {
  const repaired = text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return repaired !== text && SERVICE_NAME.test(repaired) ? repaired : undefined;
}

// ---------------------------------------------------------------------------------------------
// The schema pass: ajv validates against exactly the shipped file; its errors are reworded here.

interface SchemaNode {
  readonly $ref?: string;
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly oneOf?: readonly SchemaNode[];
  readonly items?: SchemaNode;
  readonly enum?: readonly unknown[];
  readonly examples?: readonly unknown[];
  readonly default?: unknown;
  readonly pattern?: string;
  readonly format?: string;
  readonly errorMessage?: string;
  readonly patternErrorMessage?: string;
  readonly description?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
}

const SCHEMA_KEY = 'mtls-lab';
// VS Code's additions to JSON Schema: annotations for the editor, ignored by validation.
const EDITOR_KEYWORDS = ['errorMessage', 'patternErrorMessage', 'markdownDescription', 'enumDescriptions', 'defaultSnippets'];

const ROOT = schemaDocument as unknown as SchemaNode & { readonly definitions: Readonly<Record<string, SchemaNode>> };

let compiled: Ajv | undefined;

// Compiled on first use: activation and CLI start-up stay free of schema work.
function schemaValidator(pointer = ''): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
    ajv.addVocabulary(EDITOR_KEYWORDS);
    for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: (text: string) => check(text) === undefined });
    ajv.addSchema(ROOT, SCHEMA_KEY);
    indexPointers(ROOT, '');
    compiled = ajv;
  }
  const validate = compiled.getSchema(`${SCHEMA_KEY}#${pointer}`);
  if (validate === undefined) throw new Error(`config: the schema has no node at #${pointer}; this is a bug in mTLS Lab.`);
  return validate;
}

// Where each schema node sits in the document, so a oneOf branch handed back in an error (by
// reference) can be validated on its own; error schemaPaths are relative and cannot be trusted for this.
const POINTERS = new WeakMap<object, string>();

function indexPointers(node: unknown, pointer: string): void {
  if (node === null || typeof node !== 'object') return;
  POINTERS.set(node, pointer);
  for (const [key, child] of Object.entries(node)) indexPointers(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
}

function deref(node: SchemaNode): SchemaNode {
  if (node.$ref === undefined) return node;
  const name = node.$ref.replace('#/definitions/', '');
  const target = ROOT.definitions[name];
  if (target === undefined) return node;
  // Annotations beside a $ref (a property's own description) win over the target's.
  return { ...deref(target), ...node, $ref: undefined };
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeFits(type: SchemaNode['type'], value: unknown): boolean {
  if (type === undefined) return true;
  const actual = jsonType(value);
  const wanted: readonly string[] = typeof type === 'string' ? [type] : type;
  return wanted.includes(actual) || (actual === 'integer' && wanted.includes('number'));
}

const TYPE_NOUNS: Readonly<Record<string, string>> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
  null: 'null',
};

/** Which `oneOf` branch the value was meant for: the one its JSON type fits, then the one whose required keys it has. */
function pickBranch(branches: readonly SchemaNode[], value: unknown): number {
  const fitting = branches.map((b, i) => ({ node: deref(b), i })).filter(({ node }) => typeFits(node.type, value));
  if (fitting.length <= 1) return fitting[0]?.i ?? -1;
  const keys = value !== null && typeof value === 'object' ? Object.keys(value) : [];
  const complete = fitting.filter(({ node }) => (node.required ?? []).length > 0 && (node.required ?? []).every((k) => keys.includes(k)));
  // Two forms at once (`{"signal": …, "command": …}`) is a choice only the person can make.
  if (complete.length > 1) return -1;
  const byRequired = complete[0];
  const byAnyKey = fitting.find(({ node }) => keys.some((k) => node.properties?.[k] !== undefined));
  // Nothing says which form was meant (e.g. `{}`): the node's own errorMessage describes them all.
  return (byRequired ?? byAnyKey)?.i ?? -1;
}

/** The required keys of each object form that `value` holds, when it holds more than one form's. */
function mixedForms(branches: readonly SchemaNode[], value: unknown): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  const keys = Object.keys(value);
  return branches.flatMap((b) => deref(b).required ?? []).filter((k) => keys.includes(k));
}

function segmentsOf(instancePath: string, root: unknown): Segment[] {
  if (instancePath === '') return [];
  const out: Segment[] = [];
  let here: unknown = root;
  for (const raw of instancePath.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(here)) {
      out.push(Number(key));
      here = here[Number(key)];
    } else {
      out.push(key);
      here = here !== null && typeof here === 'object' ? (here as Record<string, unknown>)[key] : undefined;
    }
  }
  return out;
}

function within(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}/`);
}

/** Validates `value` against the schema node at `pointer` and words every error; `base` is where `value` sits. */
function schemaPass(problems: Problems, value: unknown, base: readonly Segment[], pointer = ''): void {
  const validate = schemaValidator(pointer);
  if (validate(value)) return;
  const errors: readonly ErrorObject[] = validate.errors ?? [];
  // A failed oneOf drags in the complaints of every branch; keep only the branch the value was
  // meant for, by validating against it alone, so "is a number" never comes with "has no service".
  const alternatives = errors.filter((e) => e.keyword === 'oneOf');
  const outermost = alternatives.filter((e) => !alternatives.some((o) => o !== e && o.instancePath !== e.instancePath && within(e.instancePath, o.instancePath)));
  const hasFormatError = new Set(errors.filter((e) => e.keyword === 'format').map((e) => e.instancePath));
  for (const e of errors) {
    const path = [...base, ...segmentsOf(e.instancePath, value)];
    const under = outermost.find((o) => within(e.instancePath, o.instancePath));
    if (under !== undefined) {
      if (e !== under) continue;
      const branches = (e.schema ?? []) as readonly SchemaNode[];
      const chosen = pickBranch(branches, e.data);
      const node = (e.parentSchema ?? {}) as SchemaNode;
      if (chosen < 0) {
        const fix = clause(node.errorMessage ?? 'see the schema for the forms it may take');
        const present = mixedForms(branches, e.data);
        problems.error(path, present.length > 1 ? `has both ${present.map((k) => `"${k}"`).join(' and ')}; ${fix}` : `is ${shown(e.data)}; ${fix}`);
        continue;
      }
      const before = problems.list.length;
      const branch = branches[chosen];
      const pointer = branch === undefined ? undefined : POINTERS.get(branch);
      if (pointer === undefined) throw new Error('config: a oneOf branch is not part of the shipped schema; this is a bug in mTLS Lab.');
      schemaPass(problems, e.data, path, pointer);
      // Valid against its own branch yet rejected: it matched two. The schema keeps branches apart, so this is a bug guard.
      if (problems.list.length === before) problems.error(path, `is ambiguous; ${clause(node.errorMessage ?? 'see the schema')}`);
      continue;
    }
    if (e.keyword === 'pattern' && hasFormatError.has(e.instancePath)) continue;
    if (e.keyword === 'pattern' && e.propertyName !== undefined) continue; // reported by its propertyNames error
    wordError(problems, e, path);
  }
}

function wordError(problems: Problems, e: ErrorObject, path: readonly Segment[]): void {
  const node = (e.parentSchema ?? {}) as SchemaNode;
  const params = e.params as Record<string, unknown>;
  const fix = node.errorMessage === undefined ? undefined : clause(node.errorMessage);
  switch (e.keyword) {
    case 'type': {
      const expected = String(params['type']).split(',').map((t) => TYPE_NOUNS[t] ?? t);
      problems.error(path, `is ${shown(e.data)}; ${fix ?? `it must be ${orList(expected)}`}`);
      return;
    }
    case 'required': {
      const missing = String(params['missingProperty']);
      const property = node.properties?.[missing];
      const example = property === undefined ? undefined : (deref(property).examples?.[0] ?? deref(property).default);
      const tail = example === undefined ? 'add it' : `add it, e.g. "${missing}": ${inline(example)}`;
      problems.error(path, `has no "${missing}"; ${tail}`);
      return;
    }
    case 'additionalProperties': {
      const extra = String(params['additionalProperty']);
      const known = Object.keys(node.properties ?? {});
      const guess = closest(extra, known);
      const tail = guess === undefined ? `remove it, or use one of: ${known.join(', ')}` : `rename it to "${guess}", or remove it`;
      problems.error(path, `has the unknown property "${extra}"; ${tail}`, { keyOf: extra });
      return;
    }
    case 'propertyNames': {
      const key = String(params['propertyName']);
      const names = (e.schema ?? {}) as SchemaNode;
      const tail = clause(names.patternErrorMessage ?? 'rename it');
      problems.error(path, `has the key ${shown(key)}, which is not allowed; ${tail}`, { keyOf: key });
      return;
    }
    case 'enum': {
      const choices = (node.enum ?? []).map((c) => JSON.stringify(c));
      const guess = typeof e.data === 'string' ? closest(e.data, (node.enum ?? []).map(String)) : undefined;
      const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`;
      problems.error(path, `is ${shown(e.data)}${hint}; use ${orList(choices)}`);
      return;
    }
    case 'format': {
      const check = FORMATS[String(params['format'])];
      const text = typeof e.data === 'string' && check !== undefined ? check(e.data) : undefined;
      problems.error(path, text ?? `is ${shown(e.data)}, which is not valid`);
      return;
    }
    case 'pattern': {
      const repaired = typeof e.data === 'string' ? repairName(e.data) : undefined;
      const hint = repaired !== undefined && node.pattern !== undefined && new RegExp(node.pattern).test(repaired) ? ` (try "${repaired}")` : '';
      problems.error(path, `is ${shown(e.data)}, which is not allowed${hint}; ${clause(node.patternErrorMessage ?? node.description ?? 'see the schema')}`);
      return;
    }
    case 'minimum':
    case 'maximum':
      problems.error(path, `is ${shown(e.data)}; ${fix ?? `it must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(params['limit'])}`}`);
      return;
    case 'minItems':
      problems.error(path, `is ${shown(e.data)}; ${fix ?? `give at least ${String(params['limit'])}`}`);
      return;
    case 'minLength':
      problems.error(path, `is empty; ${fix ?? 'give a value'}`);
      return;
    default:
      problems.error(path, `${e.message ?? 'is not valid'}; ${fix ?? clause(node.description ?? 'see the schema')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The semantic pass: what the schema cannot say. Runs only on a document the schema accepted.

interface ServiceDraft {
  readonly file: ServiceConfigFile;
  readonly index: number;
  readonly spiffeId: SpiffeId;
}

function serviceLabel(drafts: readonly ServiceDraft[], i: number): string {
  return `services[${i}] ("${drafts[i]?.file.name ?? '?'}")`;
}

function semanticPass(problems: Problems, file: MeshConfigFile, configDir: string, source: string): MeshConfig | undefined {
  const td = TrustDomain.parse(file.trustDomain ?? DEFAULT_TRUST_DOMAIN);
  const services = file.services;
  const byName = new Map<string, number>();
  services.forEach((s, i) => {
    const first = byName.get(s.name);
    if (first === undefined) byName.set(s.name, i);
    else problems.error(['services', i, 'name'], `is "${s.name}", which services[${first}].name already uses; give each service its own name`);
  });

  const drafts: ServiceDraft[] = services.map((s, i) => ({ file: s, index: i, spiffeId: serviceId(problems, td, s, i) }));
  const byId = new Map<string, number>();
  for (const d of drafts) {
    const key = d.spiffeId.toString();
    const first = byId.get(key);
    if (first === undefined) byId.set(key, d.index);
    else if (services[first]?.name !== d.file.name) {
      problems.error(['services', d.index, d.file.spiffeId === undefined ? 'name' : 'spiffeId'], `gives the SPIFFE ID ${key}, which ${serviceLabel(drafts, first)} already has; every service needs its own ID, so change spiffeId`);
    }
  }

  checkEntry(problems, drafts);
  checkPorts(problems, drafts);
  const upstreams = drafts.map((d) => resolveUpstreams(problems, d, drafts, byName));
  const rules = resolveRules(problems, file.policy?.rules ?? [], drafts, byName, td);
  if (problems.errors.length > 0) return undefined;

  const mode = file.mode ?? 'strict';
  warnDeniedUpstreams(problems, drafts, upstreams, rules, mode);
  return {
    source,
    configDir,
    trustDomain: td,
    ttlMs: parseDuration(file.ttl ?? DEFAULT_TTL),
    keyType: file.keyType ?? DEFAULT_KEY_TYPE,
    intermediate: file.intermediate ?? false,
    mode,
    services: drafts.map((d, i) => resolvedService(d, upstreams[i] ?? [], configDir)),
    policy: { rules },
    warnings: problems.warnings,
  };
}

function serviceId(problems: Problems, td: TrustDomain, s: ServiceConfigFile, i: number): SpiffeId {
  if (s.spiffeId === undefined) return workloadId(td, s.namespace ?? DEFAULT_NAMESPACE, s.name);
  const id = parseWorkloadId(s.spiffeId);
  if (s.namespace !== undefined) {
    problems.error(['services', i, 'namespace'], `is set, and so is spiffeId, which replaces the whole ID; remove namespace, or remove spiffeId to get ${workloadId(td, s.namespace, s.name).toString()}`);
  }
  if (!id.memberOf(td)) {
    problems.error(
      ['services', i, 'spiffeId'],
      `is ${id.toString()}, in trust domain ${id.trustDomain.name}, but this mesh's CA signs only for ${td.name}; use an ID that starts with ${td.idString()}/, or remove spiffeId`,
    );
  }
  return id;
}

function checkEntry(problems: Problems, drafts: readonly ServiceDraft[]): void {
  let entry: number | undefined;
  for (const d of drafts) {
    if (d.file.entry !== true) continue;
    if (entry !== undefined) {
      problems.error(['services', d.index, 'entry'], `is true, but ${serviceLabel(drafts, entry)} is already the entry; the mesh has one front door, so set entry on one service only`);
      continue;
    }
    entry = d.index;
    if (d.file.mode === 'native') {
      problems.error(['services', d.index, 'entry'], `is true, but ${serviceLabel(drafts, d.index)} is native and speaks only mTLS; the front door is a plain port, so make it a sidecar service or set entry on another one`);
    }
  }
}

function checkPorts(problems: Problems, drafts: readonly ServiceDraft[]): void {
  const taken = new Map<number, readonly Segment[]>();
  const claim = (port: number | undefined, path: readonly Segment[]): void => {
    if (port === undefined || port === 0) return;
    const first = taken.get(port);
    if (first === undefined) taken.set(port, path);
    else problems.error(path, `is ${port}, which ${displayPath(first)} already uses; give each port once, or 0 to pick a free one at start`);
  };
  for (const d of drafts) {
    const s = d.file;
    claim(s.port, ['services', d.index, 'port']);
    if (s.meshPort !== undefined && s.meshPort !== 0 && s.mode === 'native') {
      problems.error(['services', d.index, 'meshPort'], `is set, but ${serviceLabel(drafts, d.index)} is native and accepts mTLS on its own port; remove meshPort`);
    } else {
      claim(s.meshPort, ['services', d.index, 'meshPort']);
    }
    (s.upstreams ?? []).forEach((u, j) => {
      if (typeof u !== 'string') claim(u.localPort, ['services', d.index, 'upstreams', j, 'localPort']);
    });
  }
}

function resolveUpstreams(problems: Problems, d: ServiceDraft, drafts: readonly ServiceDraft[], byName: ReadonlyMap<string, number>): UpstreamConfig[] {
  const out: UpstreamConfig[] = [];
  const seen = new Map<string, number>();
  const others = drafts.filter((o) => o.file.name !== d.file.name).map((o) => o.file.name);
  (d.file.upstreams ?? []).forEach((u, j) => {
    const name = typeof u === 'string' ? u : u.service;
    const path: Segment[] = typeof u === 'string' ? ['services', d.index, 'upstreams', j] : ['services', d.index, 'upstreams', j, 'service'];
    const target = byName.get(name);
    if (target === undefined) {
      const choices = others.length === 0 ? 'the mesh has no other service, so add one or remove this upstream' : `use one of: ${others.join(', ')}`;
      problems.error(path, `names "${name}", which is not a service; ${choices}`);
      return;
    }
    if (name === d.file.name) {
      problems.error(path, `names "${name}", which is ${serviceLabel(drafts, d.index)} itself; a service reaches itself directly, so remove it`);
      return;
    }
    const first = seen.get(name);
    if (first !== undefined) {
      problems.error(path, `names "${name}" again (services[${d.index}].upstreams[${first}] already does); list each upstream once`);
      return;
    }
    seen.set(name, j);
    const localPort = typeof u === 'string' ? 0 : (u.localPort ?? 0);
    if (localPort !== 0 && d.file.mode === 'native') {
      problems.error(['services', d.index, 'upstreams', j, 'localPort'], `is set, but ${serviceLabel(drafts, d.index)} is native and dials its upstreams itself; remove localPort, or make it a sidecar service`);
    }
    const spiffeId = drafts[target]?.spiffeId;
    if (spiffeId !== undefined) out.push({ service: name, spiffeId, localPort });
  });
  return out;
}

const RESERVED_RULE_NAMES: ReadonlySet<string> = new Set([DEFAULT_DENY, PERMISSIVE_PLAINTEXT]);

function resolveRules(
  problems: Problems,
  rules: readonly PolicyRuleFile[],
  drafts: readonly ServiceDraft[],
  byName: ReadonlyMap<string, number>,
  td: TrustDomain,
): PolicyRule[] {
  const names = drafts.map((d) => d.file.name);
  const serviceIds = new Set(drafts.map((d) => d.spiffeId.toString()));
  const example = drafts[0]?.spiffeId.toString() ?? `${td.idString()}/ns/default/sa/orders`;
  const peer = (text: string, path: readonly Segment[], callee: boolean): SpiffeId | undefined => {
    if (looksLikeId(text)) {
      const id = parseWorkloadId(text);
      if (callee && !serviceIds.has(id.toString())) {
        problems.error(path, `is ${id.toString()}, which is no service's SPIFFE ID; only services in the mesh are called through a sidecar that applies the policy, so name one of: ${names.join(', ')}`);
        return undefined;
      }
      return id;
    }
    const i = byName.get(text);
    if (i === undefined) {
      problems.error(path, `names "${text}", which is not a service; use one of: ${names.join(', ')}, or a SPIFFE ID such as ${example}`);
      return undefined;
    }
    return drafts[i]?.spiffeId;
  };
  const list = (value: string | readonly string[], path: readonly Segment[], callee: boolean): SpiffeId | SpiffeId[] | undefined => {
    if (typeof value === 'string') return peer(value, path, callee);
    const ids = value.map((v, j) => peer(v, [...path, j], callee));
    return ids.every((id) => id !== undefined) ? (ids as SpiffeId[]) : undefined;
  };
  const out: PolicyRule[] = [];
  const seen = new Map<string, number>();
  rules.forEach((r, i) => {
    const at = (...rest: Segment[]): Segment[] => ['policy', 'rules', i, ...rest];
    const first = seen.get(r.name);
    if (first !== undefined) problems.error(at('name'), `is "${r.name}", which policy.rules[${first}].name already uses; give each rule its own name`);
    else seen.set(r.name, i);
    if (RESERVED_RULE_NAMES.has(r.name)) problems.error(at('name'), `is "${r.name}", which is reserved for decisions that no rule made; choose another name`);
    const from: CallerSelector | undefined =
      typeof r.from === 'string' || Array.isArray(r.from)
        ? list(r.from as string | readonly string[], at('from'), false)
        : { memberOf: TrustDomain.parse((r.from as MemberOfFile).memberOf) };
    const to = list(r.to, at('to'), true);
    if (from !== undefined && to !== undefined) out.push({ name: r.name, from, to });
  });
  return out;
}

function warnDeniedUpstreams(problems: Problems, drafts: readonly ServiceDraft[], upstreams: readonly UpstreamConfig[][], rules: readonly PolicyRule[], mode: PolicyMode): void {
  const policy = new Policy({ mode, rules });
  drafts.forEach((d, i) => {
    const files = d.file.upstreams ?? [];
    (upstreams[i] ?? []).forEach((u) => {
      if (policy.evaluate(d.spiffeId, u.spiffeId).allowed) return;
      const j = files.findIndex((f) => (typeof f === 'string' ? f : f.service) === u.service);
      const rule = { name: `${d.file.name}-to-${u.service}`, from: d.file.name, to: u.service };
      problems.warn(
        ['services', d.index, 'upstreams', j],
        `names "${u.service}", but no policy rule lets ${d.file.name} call it, so the mesh will deny those calls; add ${inline(rule)} to policy.rules, unless the denial is the point`,
      );
    });
  });
}

function resolvedService(d: ServiceDraft, upstreams: readonly UpstreamConfig[], configDir: string): ServiceConfig {
  const s = d.file;
  const mode = s.mode ?? 'sidecar';
  return {
    name: s.name,
    command: [...s.command],
    cwd: resolve(configDir, s.cwd ?? '.'),
    port: s.port ?? 0,
    meshPort: mode === 'native' ? 0 : (s.meshPort ?? 0),
    entry: s.entry ?? false,
    mode,
    namespace: s.namespace ?? DEFAULT_NAMESPACE,
    spiffeId: d.spiffeId,
    upstreams,
    env: { ...(s.env ?? {}) },
    ...(s.reload === undefined ? {} : { reload: s.reload }),
  };
}

// ---------------------------------------------------------------------------------------------
// Entry points.

export interface ParseOptions {
  /** Where relative `cwd`s resolve; default the folder of `source`. */
  readonly configDir?: string;
}

/** The outcome of checking a config without throwing: every problem, and the config when there are no errors. */
export interface MeshConfigCheck {
  readonly config?: MeshConfig;
  /** Errors and warnings, in file order. */
  readonly problems: readonly ConfigProblem[];
}

/**
 * Checks `text` (the contents of `source`) and resolves it when it is usable. Never throws for a
 * bad config: editors call this for diagnostics; `parseMeshConfig` is the throwing twin.
 */
export function checkMeshConfig(text: string, source: string, options: ParseOptions = {}): MeshConfigCheck {
  const lines = new LineMap(text);
  const where = (offset: number): string => {
    const { line, column } = lines.at(offset);
    return `${line}:${column}`;
  };
  let doc: JsonDocument;
  try {
    doc = new JsonReader(text, where).read();
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    const { line, column } = lines.at(err.offset);
    return { problems: [{ severity: 'error', message: `config: ${source}:${line}:${column}: ${err.message}`, path: '', line, column }] };
  }
  const problems = new Problems(source, doc, lines);
  for (const dup of doc.duplicates) {
    // keyAt holds the last occurrence of the key, which is the duplicate.
    problems.error(dup.path, `has "${dup.key}" twice; keep one (JSON keeps only the last)`, { keyOf: dup.key });
  }
  schemaPass(problems, doc.value, []);
  let config: MeshConfig | undefined;
  if (problems.errors.length === 0) {
    config = semanticPass(problems, doc.value as MeshConfigFile, options.configDir ?? dirname(resolve(source)), source);
  }
  const sorted = [...problems.list].sort((a, b) => a.line - b.line || a.column - b.column);
  return config === undefined ? { problems: sorted } : { config: { ...config, warnings: sorted.filter((p) => p.severity === 'warning') }, problems: sorted };
}

/** Parses and resolves a config. Throws ConfigError (`bad-config`) whose message names the JSON path and the fix. */
export function parseMeshConfig(text: string, source: string, options: ParseOptions = {}): MeshConfig {
  const { config, problems } = checkMeshConfig(text, source, options);
  const errors = problems.filter((p) => p.severity === 'error');
  const first = errors[0];
  if (config === undefined || first !== undefined) {
    throw new ConfigError('bad-config', first?.message ?? `config: ${source}: the config is not valid.`, errors);
  }
  return config;
}

/** Reads and parses the config at `path`; relative `cwd`s resolve against its folder. Throws ConfigError. */
export async function loadMeshConfig(path: string): Promise<MeshConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    if (code === 'ENOENT') {
      throw new ConfigError('no-config', `config: cannot read ${path}: there is no such file; create it (the format is in schema/mtls-lab.schema.json) or pass --config FILE.`);
    }
    if (code === 'EISDIR') throw new ConfigError('bad-config', `config: ${path} is a folder; pass the config file in it, e.g. ${resolve(path, DEFAULT_CONFIG_FILE)}.`);
    throw new ConfigError('bad-config', `config: cannot read ${path} (${code || 'unknown error'}); check that the file exists and that you may read it.`);
  }
  return parseMeshConfig(text, path, { configDir: dirname(resolve(path)) });
}

/**
 * The file form of a resolved config, leaving out what equals a default, with service names where
 * an ID is a service's: parsing it again (from the same folder) gives the same MeshConfig.
 */
export function formatMeshConfig(config: MeshConfig): MeshConfigFile {
  const nameOf = new Map(config.services.map((s) => [s.spiffeId.toString(), s.name]));
  const peer = (id: SpiffeId): string => nameOf.get(id.toString()) ?? id.toString();
  const peers = (ids: SpiffeId | readonly SpiffeId[]): string | string[] => (ids instanceof SpiffeId ? peer(ids) : ids.map(peer));
  const services = config.services.map((s): ServiceConfigFile => {
    const defaultId = workloadId(config.trustDomain, s.namespace, s.name).equals(s.spiffeId);
    const cwd = relative(config.configDir, s.cwd).split('\\').join('/');
    return {
      name: s.name,
      command: [...s.command],
      ...(cwd === '' ? {} : { cwd: isAbsolute(cwd) ? s.cwd : cwd }),
      ...(s.port === 0 ? {} : { port: s.port }),
      ...(s.meshPort === 0 ? {} : { meshPort: s.meshPort }),
      ...(s.entry ? { entry: true } : {}),
      ...(s.mode === 'sidecar' ? {} : { mode: s.mode }),
      ...(!defaultId ? { spiffeId: s.spiffeId.toString() } : s.namespace === DEFAULT_NAMESPACE ? {} : { namespace: s.namespace }),
      ...(s.upstreams.length === 0 ? {} : { upstreams: s.upstreams.map((u) => (u.localPort === 0 ? u.service : { service: u.service, localPort: u.localPort })) }),
      ...(Object.keys(s.env).length === 0 ? {} : { env: { ...s.env } }),
      ...(s.reload === undefined ? {} : { reload: s.reload }),
    };
  });
  const rules = config.policy.rules.map((r): PolicyRuleFile => {
    const from = r.from;
    const fromFile = from instanceof SpiffeId || Array.isArray(from) ? peers(from as SpiffeId | readonly SpiffeId[]) : { memberOf: (from as { readonly memberOf: TrustDomain }).memberOf.name };
    return { name: r.name, from: fromFile, to: peers(r.to) };
  });
  return {
    ...(config.trustDomain.name === DEFAULT_TRUST_DOMAIN ? {} : { trustDomain: config.trustDomain.name }),
    ...(config.ttlMs === parseDuration(DEFAULT_TTL) ? {} : { ttl: formatDuration(config.ttlMs) }),
    ...(config.keyType === DEFAULT_KEY_TYPE ? {} : { keyType: config.keyType }),
    ...(config.intermediate ? { intermediate: true } : {}),
    ...(config.mode === 'strict' ? {} : { mode: config.mode }),
    services,
    ...(rules.length === 0 ? {} : { policy: { rules } }),
  };
}
