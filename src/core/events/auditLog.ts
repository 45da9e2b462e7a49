import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { MeshEvent } from './types.js';

/**
 * audit.jsonl: append-only, one event a line, 0600. Lines are written whole with one write(2)
 * each (O_APPEND), so a crash leaves at most a missing line, never a torn one in the middle.
 */
export class AuditLog {
  private fd: number | undefined;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a', 0o600);
  }

  append(event: MeshEvent): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
