import type { OidService } from '../families/oid/oid-service.js';
import type { StoredRecord } from '../records/record.js';
import { encodeOidKey } from '../store/oid-key.js';
import type { ChangeEntry, RecordStore } from '../store/store.js';
import type { OrsData } from './ors-answer.js';

/**
 * The OID registry as the ORS zone sees it. The zone serial is the change-log sequence of the
 * last OID change (RFC 1982 arithmetic wraps it at 2^32), so it moves exactly when the zone does
 * and IXFR can replay the OID change log from any serial a secondary holds.
 */
export class OrsSource implements OrsData {
  private current = 0;
  private readonly listeners = new Set<(serial: number) => void>();
  private unsubscribe: (() => void) | undefined;

  private constructor(
    readonly store: RecordStore,
    readonly oids: OidService,
  ) {}

  static async open(store: RecordStore, oids: OidService): Promise<OrsSource> {
    const source = new OrsSource(store, oids);
    source.current = await store.lastSeqOf('oid');
    source.unsubscribe = oids.onChange(({ seq }) => {
      source.current = seq;
      for (const listener of source.listeners) listener(source.serial());
    });
    return source;
  }

  close(): void {
    this.unsubscribe?.();
    this.listeners.clear();
  }

  /** Called with the new serial after every change of the zone. */
  onSerial(listener: (serial: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The change-log sequence the serial stands for. */
  get sequence(): number {
    return this.current;
  }

  serial(): number {
    return this.current >>> 0;
  }

  arc(arcs: readonly bigint[]): StoredRecord | undefined {
    return this.store.findRecord(`oid:${encodeOidKey(arcs)}`);
  }

  async childByLabel(parent: readonly bigint[], label: string): Promise<bigint | undefined> {
    return (await this.oids.findChildByLabel(parent, label))?.arcs.at(-1);
  }

  hasDescendant(arcs: readonly bigint[]): Promise<boolean> {
    return arcs.length === 0 ? Promise.resolve(true) : this.oids.hasActiveDescendant(arcs);
  }

  activeArcs(): AsyncGenerator<{ oid: { arcs: readonly bigint[] }; record: StoredRecord }> {
    return this.oids.activeArcs();
  }

  /** OID changes after `sequence`, oldest first. */
  changesSince(sequence: number): AsyncGenerator<ChangeEntry> {
    return this.store.familyChangesSince('oid', sequence);
  }

  recordAt(key: string, version: number): Promise<StoredRecord | undefined> {
    return this.store.recordAt(key, version);
  }
}
