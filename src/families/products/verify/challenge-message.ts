import { canonicalBytes } from './jcs.js';

/**
 * The bytes a device signs to answer a challenge: the RFC 8785 canonical JSON of
 *
 *   {"v":1,"svc":<service>,"id":<canonical item id>,"nonce":<nonce>,"cid":<challengeId>}
 *
 * which, members sorted, is `{"cid":...,"id":...,"nonce":...,"svc":...,"v":1}` in UTF-8. Binding the
 * service, the item and the challenge id means a signature made for one verifier, item or
 * challenge is worth nothing for another.
 */
export interface ChallengeMessageFields {
  readonly service: string;
  readonly id: string;
  readonly nonce: string;
  readonly challengeId: string;
}

export const CHALLENGE_MESSAGE_VERSION = 1;

export function challengeMessage(f: ChallengeMessageFields): Buffer {
  return canonicalBytes({ v: CHALLENGE_MESSAGE_VERSION, svc: f.service, id: f.id, nonce: f.nonce, cid: f.challengeId });
}
