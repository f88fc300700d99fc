// The one error family of cryo, and the exit codes that go with it (documented in README.md).
// Every layer may import this file; it imports nothing of the project.

export const EXIT = {
  OK: 0,
  RUNTIME: 1, // a dump/restore/step failed at run time
  INVALID: 2, // bad input: malformed workflow, bad option, missing pid
  IMAGE: 3, // corrupt, truncated or missing image
  UNSUPPORTED: 4, // the tree holds an object cryo can't checkpoint yet
  PID_TAKEN: 5, // restore: a pid of the image is in use
  HOOK: 6, // an action script / workflow hook vetoed the operation
  INTERNAL: 70, // a bug in cryo
  CANCELLED: 130, // stopped by Ctrl-C or SIGTERM (128 + SIGINT, as a shell reports it)
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export abstract class CryoError extends Error {
  abstract readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(message: string, opts: { hint?: string | undefined; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.hint = opts.hint;
  }
  override get name(): string {
    return this.constructor.name;
  }
}

/** A failure while dumping or restoring that is not the user's input. */
export class RuntimeError extends CryoError {
  readonly exitCode: number = EXIT.RUNTIME;
}
/** Bad input from the user: options, pids, workflow files. */
export class InputError extends CryoError {
  readonly exitCode: number = EXIT.INVALID;
}
/** An image file that is missing, truncated, corrupt, or of the wrong kind. */
export class ImageError extends CryoError {
  readonly exitCode: number = EXIT.IMAGE;
}
/** A kernel object that cryo does not know how to checkpoint (yet). */
export class UnsupportedError extends CryoError {
  readonly exitCode: number = EXIT.UNSUPPORTED;
}
/** A pid of the image is held by another process on restore. */
export class PidTakenError extends CryoError {
  readonly exitCode: number = EXIT.PID_TAKEN;
}
/** An action script or workflow hook returned non-zero. */
export class HookError extends CryoError {
  readonly exitCode: number = EXIT.HOOK;
}
/** A bug: wraps anything that is not a CryoError at the top level. */
/** The user stopped the operation (Ctrl-C, SIGTERM) and it let everything go as it was. */
export class CancelledError extends CryoError {
  readonly exitCode: number = EXIT.CANCELLED;
}

export class InternalError extends CryoError {
  readonly exitCode: number = EXIT.INTERNAL;
}
