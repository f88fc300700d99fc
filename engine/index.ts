// The engine's public surface. The CLI and the runner import only from here.
export type * from './api.ts';
export { HOOK_NAMES, actionScripts, combineHooks, hookEnv } from './hooks.ts';
export type { ActionHook, HookEvent, HookName } from './hooks.ts';
export { createLogger, silentLogger } from './log.ts';
export type { Logger, LogLevel } from './log.ts';
export { dump } from './dump.ts';
export { restore } from './restore.ts';
export { checkKernel } from './check.ts';
export type { FeatureResult } from './check.ts';
export { Children, describeStatus, killAndReap, running, startDetached, tryReap } from './children.ts';
export type { DetachedOptions, ExitStatus } from './children.ts';
export { preDump } from './pre-dump.ts';
export type { PreDumpOptions } from './pre-dump.ts';
export { decodeImageFile, MANIFEST, readImagesManifest, toCritJson, verifyImages, writeManifestFor } from './images/index.ts';
export type { DecodedImage, Manifest } from './images/index.ts';
/** CRIU's --exec-cmd: replaces this process with CMD, which becomes the restored root's parent. */
export { execProgram as execAfterRestore } from '../native/index.ts';
