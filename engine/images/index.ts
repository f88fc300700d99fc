// engine/images: the only part of cryo that knows CRIU's image format.

export { IMAGE_KINDS, imageFileName, imageKind, kindByMagic } from './kinds.ts';
export type { ImageKind, ImageKindName, PayloadRule } from './kinds.ts';
export { decodeMessage, encodeMessage, hasMessage, listMessages, messageInfo, protoEnum } from './codec.ts';
export type { Entry, FieldInfo, MessageInfo } from './codec.ts';
export { decodeImage, encodeImage, entryMessage } from './image-file.ts';
export type { DecodedImage } from './image-file.ts';
export { decodeImageFile, ImageReader, ImageWriter, MANIFEST, readManifest as readImagesManifest, verifyImages, writeManifestFor, writeRestoreStats } from './image-dir.ts';
export { RAW_BUFFER_BYTES, poolHashing } from './hashing.ts';
export { PIECE_BYTES } from './piece-hash.ts';
export type { Manifest, ManifestFile, PendingHashes, PreparedRawImage, RawImageFile, SharedRawImage } from './image-dir.ts';
export { toCritJson } from './crit-json.ts';
