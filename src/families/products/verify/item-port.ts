import type { HandleValue } from '../../../records/value.js';
import type { EvidenceType } from './verdicts.js';

/**
 * What verification needs from the product registry, and nothing more: the item an identifier
 * names (a handle, a GS1 Digital Link path `/01/{gtin}/21/{serial}`, or `imei:<15 digits>`), with
 * its class and manufacturer. The registry (`ProductRegistry.findItem` in
 * `src/families/products/registry.ts`, whose `ItemLookup` has this shape) provides it; verification
 * never writes to the registry.
 *
 * `findItem` answers undefined for an identifier that is well formed but not registered, and throws
 * a CairnError (a 400) for one that is malformed (a GTIN with a wrong check digit, an IMEI failing
 * Luhn, ...).
 */
export interface FoundItem {
  /** Canonical id of the item: its handle, `<manufacturer prefix>/<serial>`. */
  readonly handle: string;
  readonly record: {
    readonly version: number;
    readonly values: readonly HandleValue[];
    readonly status?: string;
  };
  readonly item: {
    readonly class: string;
    readonly status: string;
    /** Public JWK (object or JSON text) or SPKI PEM. */
    readonly devicePublicKey?: unknown;
    /** PEM. */
    readonly deviceCertificate?: string;
    /** NFC tag UID, hex. */
    readonly sunUid?: string;
    readonly imei?: string;
    readonly gtin?: string;
  };
  readonly cls: {
    readonly classId: string;
    readonly evidence: EvidenceType;
    /** K_SDMMetaRead and K_SDMFileRead, hex. */
    readonly sunKeys?: { readonly metaKey: string; readonly fileKey: string };
    readonly maxVerificationsPerDay?: number;
    readonly name?: string;
    readonly model?: string;
  };
  readonly manufacturer: {
    readonly prefix: string;
    readonly name: string;
    /** PEM certificates. */
    readonly anchors: readonly string[];
    /** PEM CRLs. */
    readonly crls: readonly string[];
  };
}

export type FindItem = (idText: string) => FoundItem | undefined | Promise<FoundItem | undefined>;
