// Narrow sources, as go-spiffe has them: "give me the current SVID", "give me the bundle for this
// trust domain". A static source and the rotating one are interchangeable, so a sidecar never
// knows which it has.

/** One SVID with its key, ready for a TLS context. Never sent to a page. */
export interface SvidMaterial {
  readonly spiffeId: string;
  /** Leaf first, then intermediates, PEM. */
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface X509SvidSource {
  /** The SVID to present now. */
  current(): SvidMaterial;
  /** Called after the SVID changed (rotation); returns an unsubscribe function. */
  onDidChange(listener: () => void): () => void;
}

export interface X509BundleSource {
  /** Root certificates (PEM, concatenated) trusted for `trustDomain`, or undefined when there are none. */
  bundlePemFor(trustDomain: string): string | undefined;
  /** Every trusted root of every trust domain, PEM: what a TLS context needs as `ca`. */
  allBundlesPem(): string;
  onDidChange(listener: () => void): () => void;
}

/** A fixed SVID and bundle: for tests and for files that never change. */
export class StaticX509Source implements X509SvidSource, X509BundleSource {
  constructor(
    private readonly svid: SvidMaterial,
    private readonly bundles: ReadonlyMap<string, string>,
  ) {}

  current(): SvidMaterial {
    return this.svid;
  }

  bundlePemFor(trustDomain: string): string | undefined {
    return this.bundles.get(trustDomain);
  }

  allBundlesPem(): string {
    return [...this.bundles.values()].join('');
  }

  onDidChange(): () => void {
    return () => undefined;
  }
}
