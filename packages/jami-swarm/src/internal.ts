/**
 * `jami-swarm/internal`: the building blocks under the public API (commit signing, trees, packs, the object
 * walk of upload-pack). Used by tests and benches; no stability promise between versions.
 */
export { signCommit } from "./repository.js";
export { objectId, ObjectStore, type ObjectReader, type RawObject, type ObjectType } from "./objects.js";
export { editTree, TreeReader, parseTree, serializeTree, EMPTY_TREE, type TreeEntry, type TreeChange } from "./tree.js";
export { writePackIndex, applyDelta, type PackEntry, type ParsedPack } from "./pack.js";
export { objectsToSend } from "./pack-objects.js";
export { walkNewestFirst } from "./history.js";
export { mergeBase } from "./merge-check.js";
export { CommitValidator } from "./validator.js";
