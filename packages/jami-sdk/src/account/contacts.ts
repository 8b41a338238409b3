/** A contact as the account keeps it (jamid's `Contact`: added / removed / confirmed / banned). */
export interface Contact {
  jamiId: string;
  /** Unix ms when we added the contact or accepted its request. */
  added: number;
  /** Both sides agreed (their request accepted, or their confirmation received). */
  confirmed: boolean;
  banned: boolean;
  conversationId: string;
}

/** A trust request received and not yet answered. */
export interface PendingTrustRequest {
  from: string;
  /** The sending device (device short id of its key). */
  device: string;
  conversationId: string;
  /** base64 of the payload (usually a vCard). */
  payload: string;
  received: number;
}

export interface ContactsFile {
  contacts: Record<string, Contact>;
  requests: Record<string, PendingTrustRequest>;
}

export const emptyContacts = (): ContactsFile => ({ contacts: {}, requests: {} });
