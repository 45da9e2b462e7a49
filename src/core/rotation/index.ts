export type { Clock, TimerHandle } from './clock.js';
export { delay, systemClock } from './clock.js';
export type { RotationErrorCode } from './errors.js';
export { RotationError } from './errors.js';
export type { BackoffOptions } from './policy.js';
export { Backoff, ROTATION_JITTER, rotationDeadline, shouldRotate } from './policy.js';
export type { ReloadResult, ReloadSpec } from './reload.js';
export type {
  CaRotationResult,
  IssueFn,
  RotatingAuthority,
  RotationCause,
  RotationNotice,
  RotationOutcome,
  RotatorOptions,
  WorkloadSpec,
  WorkloadStatus,
  WriteFilesFn,
} from './rotator.js';
export { Rotator } from './rotator.js';
