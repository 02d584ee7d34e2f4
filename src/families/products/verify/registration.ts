import { inclusionProofOf, type InclusionProofJson } from '../../../log/proof-json.js';
import type { TransparencyLog } from '../../../log/transparency-log.js';
import { signTreeHead, type SignedTreeHead } from '../../../log/tree-head.js';
import type { Signer } from '../../../signing/signer.js';

/**
 * The proof of an item's registration that a verdict carries: the inclusion proof (RFC 9162
 * 2.1.3) of the change-log entry of the item record's first version, against the current signed
 * tree head, which travels with it. The verdict token binds it by `logLeaf` (the leaf hash) and
 * `logTreeSize`.
 */
export interface Registration extends InclusionProofJson {
  readonly sth: SignedTreeHead;
}

/** The registration proof of an item by its canonical handle, or null when there is none to give. */
export type RegistrationSource = (handle: string) => Promise<Registration | null>;

/**
 * Proofs from the service's transparency log. A verification never fails because of the log: an
 * item whose registration is not logged yet (the follower lags), or any log error, gives null.
 * The tree head is signed once per tree size, not once per verification.
 */
export function logRegistrations(log: TransparencyLog, signer: Signer, issuer: string): RegistrationSource {
  let head: { sth: SignedTreeHead; kid: string } | undefined;
  const headOf = (size: number, rootHash: string): SignedTreeHead => {
    const kid = signer.active.kid;
    if (head?.sth.treeSize !== size || head.sth.rootHash !== rootHash || head.kid !== kid) {
      head = { sth: signTreeHead(signer, issuer, { treeSize: size, rootHash: Buffer.from(rootHash, 'base64') }), kid };
    }
    return head.sth;
  };
  return async (handle) => {
    try {
      const proof = await inclusionProofOf(log, handle, 1);
      return { ...proof, sth: headOf(proof.treeSize, proof.rootHash) };
    } catch {
      return null;
    }
  };
}
