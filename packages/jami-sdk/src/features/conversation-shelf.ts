import { join } from "node:path";
import { releaseIdleSharedCaches, type SwarmRepository, type GitFs } from "jami-swarm";
import type { AccountComponents } from "../account/components.js";
import { AccountError } from "../errors.js";
import { SERVED_ROLES } from "./conversation-git.js";

/** How this device writes: the file system and the signing device. */
export interface RepoOptions {
  fs: GitFs;
  author: { device: AccountComponents["identity"]["signingDevice"]; displayName?: string };
}

/**
 * The conversations on this device: the open repositories (`<root>/<id>`, jamid's layout), those we left and still
 * serve until a member fetched the leave commit, and each one's member list (kept for the archive, which is written
 * synchronously). Shared by the parts of the conversations feature; it does no I/O but the file system's.
 */
export class ConversationShelf {
  readonly repos = new Map<string, SwarmRepository>();
  /** Conversations we left, still served until a member fetched the leave commit. */
  readonly leaving = new Map<string, SwarmRepository>();
  private readonly memberCache = new Map<string, string[]>();

  constructor(
    readonly root: string,
    readonly fs: GitFs,
    readonly repoOptions: () => RepoOptions,
  ) {}

  dirOf(conversationId: string): string {
    return join(this.root, conversationId);
  }

  require(conversationId: string): SwarmRepository {
    const repo = this.repos.get(conversationId);
    if (!repo) throw new AccountError("INVALID_ARGUMENT", `unknown conversation ${conversationId}`);
    return repo;
  }

  /** Admins, members and invited of a conversation here, as last read. */
  members(conversationId: string): string[] {
    return this.memberCache.get(conversationId) ?? [];
  }

  async refreshMembers(conversationId: string): Promise<void> {
    const repo = this.repos.get(conversationId);
    if (repo)
      this.memberCache.set(
        conversationId,
        (await repo.members()).filter((m) => SERVED_ROLES.has(m.role)).map((m) => m.uri),
      );
  }

  /**
   * Every repository here not used since the last call lets go of its caches (packs, trees, commit graph…), and so
   * do the caches repositories share: called every `periodMs`, a conversation idle for a whole period holds only
   * its place on this shelf.
   */
  releaseIdle(options: { now: number; periodMs: number }): void {
    for (const repo of this.repos.values()) repo.releaseIdle();
    for (const repo of this.leaving.values()) repo.releaseIdle();
    releaseIdleSharedCaches(options);
  }

  /** Out of the list (left or removed); its directory is the caller's to keep or erase. */
  forget(conversationId: string): SwarmRepository | undefined {
    const repo = this.repos.get(conversationId);
    this.repos.delete(conversationId);
    this.memberCache.delete(conversationId);
    return repo;
  }

  /** Deletes a directory and what it holds through the injected file system (which has no recursive remove). */
  async removeTree(path: string): Promise<void> {
    const stat = (await this.fs.promises.lstat(path)) as { isDirectory(): boolean };
    if (!stat.isDirectory()) return this.fs.promises.unlink(path);
    for (const name of await this.fs.promises.readdir(path)) await this.removeTree(`${path}/${name}`);
    await this.fs.promises.rmdir(path);
  }
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}
