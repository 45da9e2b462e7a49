import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Ports the mesh picks must be released before their owner (often a child process) binds them.
// Picked from the OS's ephemeral range, a port can be handed to someone else's `listen(0)` or an
// outgoing connection in that gap; so the mesh picks below the ephemeral range, where the OS never
// assigns on its own, and never hands the same port out twice in one process.
const PICK_FLOOR = 10_000;
const handedOut = new Set<number>();

function ephemeralFloor(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > PICK_FLOOR + 1_000) return low;
  } catch {
    // Not Linux: fall back to the IANA dynamic range's start.
  }
  return 49_152;
}

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that is free now and outside the range the OS hands out by itself. */
export async function freePort(random: () => number = Math.random): Promise<number> {
  const ceiling = ephemeralFloor();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PICK_FLOOR + Math.floor(random() * (ceiling - PICK_FLOOR));
    if (handedOut.has(port)) continue;
    if (await tryListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`mesh: found no free port on 127.0.0.1 between ${PICK_FLOOR} and ${ceiling} after 200 tries; free some ports or set explicit ports in mtls-lab.json.`);
}

/** Rejects with EADDRINUSE when something already listens on 127.0.0.1:port. */
export function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}
