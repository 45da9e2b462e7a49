// Every name the manifest (package.json `contributes`) and the code share. A unit test reads the
// manifest and checks each contributed command is registered, so the two cannot drift.

export const COMMANDS = {
  startSampleMesh: 'mtlsLab.startSampleMesh',
  startMeshFromConfig: 'mtlsLab.startMeshFromConfig',
  stopMesh: 'mtlsLab.stopMesh',
  openGraph: 'mtlsLab.openGraph',
  rotateNow: 'mtlsLab.rotateNow',
  rotateCa: 'mtlsLab.rotateCa',
  runAttack: 'mtlsLab.runAttack',
  allowCall: 'mtlsLab.allowCall',
  denyCall: 'mtlsLab.denyCall',
  issueCertificate: 'mtlsLab.issueCertificate',
  inspectCertificate: 'mtlsLab.inspectCertificate',
  injectCertificates: 'mtlsLab.injectCertificates',
  stopInjecting: 'mtlsLab.stopInjecting',
  exportTrustBundle: 'mtlsLab.exportTrustBundle',
  createConfig: 'mtlsLab.createConfig',
  copySpiffeId: 'mtlsLab.copySpiffeId',
  showLog: 'mtlsLab.showLog',
} as const;

export type CommandId = (typeof COMMANDS)[keyof typeof COMMANDS];

export const VIEW_CONTAINER = 'mtlsLab';
export const IDENTITIES_VIEW = 'mtlsLab.identities';
export const GRAPH_VIEW_TYPE = 'mtlsLab.graph';
export const CONFIG_SECTION = 'mtlsLab';
export const OUTPUT_CHANNEL = 'mTLS Lab';

/** Context keys: `when` clauses in the manifest and walkthrough `onContext:` completion events read these. */
export const CONTEXT = {
  meshState: 'mtlsLab.meshState',
  meshRunning: 'mtlsLab.meshRunning',
  sawRotation: 'mtlsLab.sawRotation',
  sawRejectedAttack: 'mtlsLab.sawRejectedAttack',
  policyChanged: 'mtlsLab.policyChanged',
  injecting: 'mtlsLab.injecting',
} as const;

/** Tree item `contextValue`s, matched by `view/item/context` menus. */
export const TREE_CONTEXT = {
  service: 'mtlsLab.service',
  detail: 'mtlsLab.detail',
  spiffeId: 'mtlsLab.spiffeId',
  certificate: 'mtlsLab.certificate',
  injectionGroup: 'mtlsLab.injections',
  injection: 'mtlsLab.injection',
} as const;
