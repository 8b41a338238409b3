import type { ConversationMode } from "./bodies.js";
import { walkNewestFirst } from "./history.js";
import { SwarmRepository, type RepositoryOptions } from "./repository.js";
import { CommitValidator } from "./validator.js";

/** What `jami swarm verify` prints for a valid conversation. */
export interface VerifiedConversation {
  conversationId: string;
  mode: ConversationMode;
  head: string;
  commits: number;
  members: { admins: string[]; members: string[]; invited: string[]; banned: string[] };
}

/**
 * Checks a whole conversation as jamid checks a clone (`validClone`): every commit from the initial one to
 * `main`, oldest first, with every rule (strict by default). Throws the first `CommitRejectedError`.
 */
export async function verifyConversation(dir: string, options: RepositoryOptions): Promise<VerifiedConversation> {
  const repo = await SwarmRepository.open(dir, options);
  const head = await repo.head();
  const history = (await walkNewestFirst(repo.store, head)).reverse();
  await new CommitValidator(repo.store, repo.conversationId, options).validate(history.map(({ oid, body }) => ({ oid, body })));
  const all = await repo.members(head);
  const pick = (role: string): string[] =>
    all
      .filter((m) => m.role === role)
      .map((m) => m.uri)
      .sort();
  return {
    conversationId: repo.conversationId,
    mode: await repo.mode(),
    head,
    commits: history.length,
    members: { admins: pick("admin"), members: pick("member"), invited: pick("invited"), banned: pick("banned") },
  };
}
