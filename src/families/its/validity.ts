/**
 * When a sign applies: a validity interval and recurring time windows.
 *
 *   validity = { from: date-time | null, to: date-time | null, windows: [window, ...] }
 *   window   = { days: ["Mon", ..., "Sun"], from: "HH:MM", to: "HH:MM", tz: "<IANA zone>" }
 *
 * A sign is valid at instant t when `from <= t < to` (a null end is open) and, if it has windows,
 * t falls in at least one of them. A window is read in its time zone (`tz`, default "UTC";
 * IANA names such as "Europe/Berlin", so daylight saving time follows the zone's rules): on one
 * of `days` (default all seven), local time of day in [from, to). `to` may be "24:00". A window
 * whose `to` is earlier than its `from` runs overnight: it starts on a listed day and ends the
 * next morning (Fri 22:00-06:00 covers Friday night and Saturday until 06:00), as OpenStreetMap's
 * opening_hours reads it. Times of day have minute resolution.
 */

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface TimeWindow {
  readonly days: readonly Weekday[];
  readonly from: string;
  readonly to: string;
  readonly tz: string;
}

export interface Validity {
  readonly from: string | null;
  readonly to: string | null;
  readonly windows: readonly TimeWindow[];
}

export const MAX_WINDOWS = 16;

/** Thrown with the path of the offending member; the caller maps it to its error code. */
export class ValidityError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/i;

/**
 * Milliseconds since the epoch of an RFC 3339 date-time (`2026-01-01T00:00:00Z`,
 * `2026-01-01T07:00:00+01:00`, fractions allowed); undefined for anything else, impossible dates
 * (February 30th, hour 24, second 60) included.
 */
export function parseDateTime(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length > 40) return undefined;
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const ms = Date.parse(text.toUpperCase());
  return Number.isFinite(ms) ? ms : undefined;
}

/** Canonical text of an instant: UTC, `Z`, milliseconds only when there are some. */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

const CLOCK = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;

function minuteOfDay(text: unknown, field: string, allow24: boolean): number {
  if (allow24 && text === '24:00') return 1440;
  const m = typeof text === 'string' ? CLOCK.exec(text) : null;
  if (!m) throw new ValidityError(field, `${field} must be a time of day HH:MM (00:00-23:59${allow24 ? ' or 24:00' : ''})`);
  return Number(m[1]) * 60 + Number(m[2]);
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

function zoneFormat(tz: string): Intl.DateTimeFormat {
  let f = zoneFormats.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit' });
    if (zoneFormats.size > 1000) zoneFormats.clear();
    zoneFormats.set(tz, f);
  }
  return f;
}

/** The IANA zone's canonical name, or undefined if the runtime does not know it. */
function canonicalZone(tz: unknown): string | undefined {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(tz)) return undefined;
  try {
    return zoneFormat(tz).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function parseWindow(x: unknown, field: string): TimeWindow {
  if (!isObject(x)) throw new ValidityError(field, `${field} must be {"days": [...], "from": "HH:MM", "to": "HH:MM", "tz": "Europe/Berlin"}`);
  for (const k of Object.keys(x)) if (!['days', 'from', 'to', 'tz'].includes(k)) throw new ValidityError(`${field}.${k}`, `${field} has an unknown member "${k}"`);
  let days: Weekday[] = [...WEEKDAYS];
  if (x.days !== undefined) {
    if (!Array.isArray(x.days) || x.days.length === 0 || x.days.length > 7) throw new ValidityError(`${field}.days`, `${field}.days must list 1 to 7 of ${WEEKDAYS.join(', ')}`);
    for (const d of x.days as unknown[]) {
      if (!(WEEKDAYS as readonly unknown[]).includes(d)) throw new ValidityError(`${field}.days`, `${field}.days: "${String(d)}" is not one of ${WEEKDAYS.join(', ')}`);
    }
    if (new Set(x.days).size !== x.days.length) throw new ValidityError(`${field}.days`, `${field}.days has duplicates`);
    days = WEEKDAYS.filter((d) => (x.days as unknown[]).includes(d));
  }
  const from = minuteOfDay(x.from, `${field}.from`, false);
  const to = minuteOfDay(x.to, `${field}.to`, true);
  if (from === to) throw new ValidityError(`${field}.to`, `${field} is empty: from and to are equal`);
  const tz = x.tz === undefined ? 'UTC' : canonicalZone(x.tz);
  if (tz === undefined) throw new ValidityError(`${field}.tz`, `${field}.tz "${String(x.tz)}" is not an IANA time zone known here`);
  return { days, from: x.from as string, to: x.to as string, tz };
}

function instant(x: unknown, field: string): string | null {
  if (x === undefined || x === null) return null;
  const ms = parseDateTime(x);
  if (ms === undefined) throw new ValidityError(field, `${field} must be an RFC 3339 date-time such as 2026-01-01T00:00:00Z, or null`);
  return formatDateTime(ms);
}

export const ALWAYS: Validity = { from: null, to: null, windows: [] };

/** Validates a body's `validity` member (absent or null: always valid). */
export function parseValidity(x: unknown, field = 'validity'): Validity {
  if (x === undefined || x === null) return ALWAYS;
  if (!isObject(x)) throw new ValidityError(field, `${field} must be {"from": ..., "to": ..., "windows": [...]}`);
  for (const k of Object.keys(x)) if (!['from', 'to', 'windows'].includes(k)) throw new ValidityError(`${field}.${k}`, `${field} has an unknown member "${k}"`);
  const from = instant(x.from, `${field}.from`);
  const to = instant(x.to, `${field}.to`);
  if (from !== null && to !== null && Date.parse(from) >= Date.parse(to)) throw new ValidityError(`${field}.to`, `${field}.to must be later than ${field}.from`);
  let windows: TimeWindow[] = [];
  if (x.windows !== undefined && x.windows !== null) {
    if (!Array.isArray(x.windows) || x.windows.length > MAX_WINDOWS) throw new ValidityError(`${field}.windows`, `${field}.windows must be an array of at most ${MAX_WINDOWS} windows`);
    windows = (x.windows as unknown[]).map((w, i) => parseWindow(w, `${field}.windows[${i}]`));
  }
  return { from, to, windows };
}

function localDayAndMinute(ms: number, tz: string): { day: number; minute: number } {
  let day = -1;
  let hour = 0;
  let minute = 0;
  for (const part of zoneFormat(tz).formatToParts(new Date(ms))) {
    if (part.type === 'weekday') day = WEEKDAYS.indexOf(part.value as Weekday);
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return { day, minute: hour * 60 + minute };
}

/** Whether the window is open at instant `ms`. */
export function windowOpenAt(w: TimeWindow, ms: number): boolean {
  const { day, minute } = localDayAndMinute(ms, w.tz);
  const from = minuteOfDay(w.from, 'from', false);
  const to = minuteOfDay(w.to, 'to', true);
  const listed = (d: number): boolean => w.days.includes(WEEKDAYS[(d + 7) % 7]!);
  if (from < to) return listed(day) && minute >= from && minute < to;
  // Overnight: the evening part on a listed day, the morning part on the day after one.
  return (listed(day) && minute >= from) || (listed(day - 1) && minute < to);
}

/** Whether a sign with this validity applies at instant `ms`. */
export function validAt(v: Validity, ms: number): boolean {
  if (v.from !== null && ms < Date.parse(v.from)) return false;
  if (v.to !== null && ms >= Date.parse(v.to)) return false;
  return v.windows.length === 0 || v.windows.some((w) => windowOpenAt(w, ms));
}
