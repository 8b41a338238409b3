/**
 * Jami swarm conversations: each conversation is a git repository exactly as jamid keeps it — signed commits
 * with JSON bodies, members as certificate files, jamid's validation rules (strict by default), merges, display
 * order — on an injected file system, plus git's upload-pack protocol (v1) over any byte stream.
 * @packageDocumentation
 * @module jami-swarm
 */
export { SwarmError, CommitRejectedError, isSwarmError, JAMID_ERROR, type SwarmErrorCode, type SwarmRule } from "./errors.js";
export { SwarmRepository, releaseIdleSharedCaches, accountUri, memberPem, type SwarmMessage, type SwarmAuthor, type RepositoryOptions } from "./repository.js";
export { encodeBody, decodeBody, messageFields, ConversationMode, type CommitBody, type FileBody, type CallBody, type MemberAction } from "./bodies.js";
export { membersAt, type Member, type MemberRole } from "./members.js";
export { verifyConversation, type VerifiedConversation } from "./verify.js";
export { type ValidationOptions } from "./validator.js";
export { readProfileVcf, writeProfileVcf, type ConversationProfile } from "./profile.js";
export { parseCommit, signedPayload, type CommitObject, type GitPerson } from "./commit-object.js";
export { jsoncppStringify, type JsonValue } from "./json.js";
export { type GitFs } from "./fs.js";
export { serveUploadPack, type ServeOptions } from "./git-server.js";
export { fetchPack, type FetchRequest, type FetchedPack } from "./git-client.js";
export { type FetchOutcome } from "./sync.js";
export { parsePack, writePack, DEFAULT_PACK_LIMITS, type PackLimits } from "./pack.js";
export { pkt, flushPkt, PktReader, ByteReader, FLUSH, MAX_PKT, type Pkt } from "./pktline.js";
