import { createReadStream } from 'node:fs';
import { ImportLineInvalid } from '../errors.js';

/**
 * Reads the features of a GeoJSON FeatureCollection file one at a time, in bounded memory: the
 * file is read in chunks and only the feature being read (and any other top-level member, such
 * as `bbox`) is held, never the whole document. Each feature and member is checked with
 * `JSON.parse`; the scan between them checks the top-level punctuation, so a file that is not
 * JSON fails as `JSON.parse` of the whole would (ERR_IMPORT_LINE_INVALID with the line).
 */

/** One element of `features`: parsed, with its 0-based index and the 1-based line it starts on. */
export interface FeatureItem {
  readonly index: number;
  readonly line: number;
  readonly value: unknown;
}

/** A single feature or top-level member larger than this is refused (the import would not be bounded). */
export const MAX_ITEM_CHARS = 16 * 1024 * 1024;

type State = 'start' | 'key' | 'firstKey' | 'colon' | 'value' | 'afterValue' | 'element' | 'firstElement' | 'end';

/**
 * A push scanner: `push(chunk)` returns the features completed by that chunk; `end()` checks that
 * the document ended and was a FeatureCollection.
 */
export class FeatureCollectionScanner {
  private state: State = 'start';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  private atStart = true;
  /** Text of the key, member value or feature being read, and the line it started on. */
  private buf = '';
  private bufLine = 1;
  private key: string | undefined;
  private typeValue: unknown;
  private sawFeatures = false;
  private featuresNotArray = false;
  private count = 0;

  constructor(private readonly path: string) {}

  get features(): number {
    return this.count;
  }

  private notJson(line = this.line): ImportLineInvalid {
    return new ImportLineInvalid(`${this.path} is not GeoJSON: not JSON (line ${line})`, { line });
  }

  private parse(text: string, line: number): unknown {
    try {
      return JSON.parse(text);
    } catch (e) {
      const position = /position (\d+)/.exec((e as Error).message)?.[1];
      let at = line;
      if (position !== undefined) for (let i = 0; i < Number(position) && i < text.length; i++) if (text.charCodeAt(i) === 10) at++;
      throw this.notJson(at);
    }
  }

  private keep(ch: string): void {
    if (this.buf.length === 0) this.bufLine = this.line;
    this.buf += ch;
    if (this.buf.length > MAX_ITEM_CHARS) throw new ImportLineInvalid(`${this.path}: the item starting on line ${this.bufLine} is over ${MAX_ITEM_CHARS} characters`, { line: this.bufLine });
  }

  push(chunk: string): FeatureItem[] {
    const out: FeatureItem[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i]!;
      if (this.atStart) {
        this.atStart = false;
        if (ch === '\uFEFF') continue;
      }
      if (ch === '\n') this.line++;
      const capturing = this.state === 'value' || this.state === 'element' || this.state === 'key';
      if (this.inString) {
        if (capturing) this.keep(ch);
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') {
          this.inString = false;
          if (this.state === 'key') {
            this.key = this.parse(this.buf, this.bufLine) as string;
            this.buf = '';
            this.state = 'colon';
          }
        }
        continue;
      }
      const space = ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
      switch (this.state) {
        case 'start':
          if (space) continue;
          if (ch !== '{') throw this.notJson();
          this.depth = 1;
          this.state = 'firstKey';
          continue;
        case 'end':
          if (!space) throw this.notJson();
          continue;
        case 'firstKey':
        case 'key':
          if (space) continue;
          if (ch === '}' && this.state === 'firstKey') {
            this.depth = 0;
            this.state = 'end';
            continue;
          }
          if (ch !== '"') throw this.notJson();
          this.state = 'key';
          this.inString = true;
          this.keep(ch);
          continue;
        case 'colon':
          if (space) continue;
          if (ch !== ':') throw this.notJson();
          this.state = 'value';
          continue;
        case 'afterValue':
          if (space) continue;
          if (ch === ',') this.state = 'key';
          else if (ch === '}') {
            this.depth = 0;
            this.state = 'end';
          } else throw this.notJson();
          continue;
        case 'firstElement':
          if (space) continue;
          if (ch === ']') {
            this.depth = 1;
            this.state = 'afterValue';
            continue;
          }
          this.state = 'element';
          break;
        default:
          break;
      }
      // Reading a member value (depth 1 at its ends) or a feature (depth 2 at its ends).
      const base = this.state === 'value' ? 1 : 2;
      if (this.depth === base && this.buf.length === 0 && space) continue;
      if (this.state === 'value' && this.depth === 1 && this.buf.length === 0 && ch === '[' && this.key === 'features' && !this.sawFeatures) {
        this.sawFeatures = true;
        this.depth = 2;
        this.state = 'firstElement';
        continue;
      }
      if (this.depth === base && (ch === ',' || ch === (base === 1 ? '}' : ']'))) {
        if (this.buf.trim() === '') throw this.notJson();
        const value = this.parse(this.buf, this.bufLine);
        if (base === 1) {
          if (this.key === 'type') this.typeValue = value;
          if (this.key === 'features') this.featuresNotArray = true;
        } else out.push({ index: this.count++, line: this.bufLine, value });
        this.buf = '';
        if (ch === ',') this.state = base === 1 ? 'key' : 'element';
        else {
          this.depth = base - 1;
          this.state = base === 1 ? 'end' : 'afterValue';
        }
        continue;
      }
      if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if (ch === '}' || ch === ']') {
        if (this.depth <= base) throw this.notJson();
        this.depth--;
      }
      this.keep(ch);
    }
    return out;
  }

  /** Checks the end of the document: complete, and a FeatureCollection with a `features` array. */
  end(): void {
    if (this.state !== 'end') throw this.notJson();
    if (this.typeValue !== 'FeatureCollection' || !this.sawFeatures || this.featuresNotArray) {
      throw new ImportLineInvalid(`${this.path} is not a GeoJSON FeatureCollection: expected {"type": "FeatureCollection", "features": [...]}`);
    }
  }
}

/** Every feature of the file, read in chunks; throws ERR_IMPORT_LINE_INVALID for a file that is no FeatureCollection. */
export async function* readFeatures(path: string): AsyncGenerator<FeatureItem> {
  const scanner = new FeatureCollectionScanner(path);
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  try {
    for await (const chunk of stream) yield* scanner.push(chunk as string);
  } finally {
    stream.destroy();
  }
  scanner.end();
}

/** Reads the whole file once, checking it and counting its features (in bounded memory). */
export async function countFeatures(path: string): Promise<number> {
  let n = 0;
  for await (const _ of readFeatures(path)) n++;
  return n;
}
