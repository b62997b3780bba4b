// Encryption at rest: payloads (JSON text) sealed with AES-256-GCM into an envelope that is itself a JSON object, so
// that every column, trigger and check that takes JSON takes it, and one sealed value can sit inside another's JSON
// (a chord's args are its members' sealed results). The newest key seals; any listed key opens.
import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from "node:crypto";
import { DecryptionError, InvalidArgsError } from "./errors.js";

export interface EncryptionKey {
  /** Stored with each value it seals, so that the key can be found again: 1 to 64 letters, digits, `.`, `_`, `-`. */
  id: string;
  /** 32 bytes: base64 text (`openssl rand -base64 32`) or the bytes themselves. */
  key: string | Uint8Array;
}

export interface EncryptionOptions {
  /** The newest first: it seals what is stored from now on; every key listed opens what it sealed. */
  keys: readonly EncryptionKey[];
}

/** The envelope's marker field: `{"$errand_enc":"v1","k":<key id>,"iv":<base64>,"d":<base64 of ciphertext and tag>}`. */
export const ENVELOPE_MARK = "$errand_enc";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

interface Envelope {
  $errand_enc: "v1";
  k: string;
  iv: string;
  d: string;
}

/** Whether a parsed JSON value is a sealed envelope. */
export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return v[ENVELOPE_MARK] === "v1" && typeof v.k === "string" && typeof v.iv === "string" && typeof v.d === "string";
}

/** A value with every envelope in it replaced by `replace(envelope)`; the value itself when it holds none. */
export function mapEnvelopes(value: unknown, replace: (e: Envelope) => unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (isEnvelope(value)) return replace(value);
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = mapEnvelopes(value[i], replace);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | null = null;
  for (const [k, item] of Object.entries(value)) {
    const v = mapEnvelopes(item, replace);
    if (v !== item) (out ??= { ...(value as Record<string, unknown>) })[k] = v;
  }
  return out ?? value;
}

function parseOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A value as shown to people who lack its key (the dashboard, the CLI): each envelope as "[encrypted: key <id>]". */
export function showSealed(value: unknown): unknown {
  return mapEnvelopes(value, (e) => `[encrypted: key ${e.k}]`);
}

/**
 * `value`, unless it still holds an envelope (this Errand lacks its key): then DecryptionError, naming the key, rather
 * than an envelope taken for the value by the code that asked for it (job.result(), flow results, ctx.spawn()).
 */
export function refuseSealed<T>(value: T, what: string): T {
  let found: Envelope | null = null;
  mapEnvelopes(value, (e) => (found ??= e));
  if (found === null) return value;
  const { k } = found as Envelope;
  throw new DecryptionError(
    `${what} is encrypted with key "${k}", which this Errand cannot decrypt: add that key to encryption.keys ` +
      `(or ERRAND_ENCRYPTION_KEYS)`,
    k,
  );
}

/** Seals and opens payloads with a checked key ring. */
export class Sealer {
  private readonly keys: ReadonlyMap<string, KeyObject>;
  readonly newestId: string;
  private readonly newest: KeyObject;
  /** Random IVs drawn 256 at a time: one call to the system's source for many seals. */
  private ivs = Buffer.alloc(0);
  private ivAt = 0;

  constructor(options: EncryptionOptions, where: string) {
    this.keys = checkKeys(options, where);
    this.newestId = options.keys[0]!.id;
    this.newest = this.keys.get(this.newestId)!;
  }

  /** The ids of the keys this sealer opens, newest first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * JSON text → the envelope's JSON text, under the newest key. An envelope already (one read back that this Errand
   * could not open, written again) is kept as it is: sealed twice, its key would be hidden from reencrypt.
   */
  seal(text: string): string {
    if (text.includes(ENVELOPE_MARK) && isEnvelope(parseOrNull(text))) return text;
    if (this.ivAt + IV_BYTES > this.ivs.length) {
      this.ivs = randomFillSync(Buffer.allocUnsafe(IV_BYTES * 256));
      this.ivAt = 0;
    }
    const iv = this.ivs.subarray(this.ivAt, (this.ivAt += IV_BYTES));
    const cipher = createCipheriv("aes-256-gcm", this.newest, iv);
    const data = Buffer.concat([cipher.update(text, "utf8"), cipher.final(), cipher.getAuthTag()]);
    // Key ids are checked to need no JSON escaping.
    return `{"${ENVELOPE_MARK}":"v1","k":"${this.newestId}","iv":"${iv.toString("base64")}","d":"${data.toString("base64")}"}`;
  }

  /** Whether `text` (JSON) was sealed whole under the newest key: what reencrypt leaves as it is. */
  sealedNewest(text: string): boolean {
    if (!text.includes(ENVELOPE_MARK)) return false;
    const v = JSON.parse(text) as unknown;
    return isEnvelope(v) && v.k === this.newestId;
  }

  /** An envelope's plaintext JSON text; throws DecryptionError naming the key when it cannot. */
  openEnvelope(e: Envelope): string {
    const key = this.keys.get(e.k);
    if (!key) {
      throw new DecryptionError(
        `it is encrypted with key "${e.k}", which is not among this Errand's encryption keys (${this.keyIds.join(", ")}): ` +
          `add that key to encryption.keys (or ERRAND_ENCRYPTION_KEYS) to read it`,
        e.k,
      );
    }
    const iv = Buffer.from(e.iv, "base64");
    const data = Buffer.from(e.d, "base64");
    try {
      if (iv.length !== IV_BYTES || data.length < TAG_BYTES) throw new Error("truncated");
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      return decipher.update(data.subarray(0, data.length - TAG_BYTES), undefined, "utf8") + decipher.final("utf8");
    } catch {
      throw new DecryptionError(
        `it does not decrypt with key "${e.k}": the key listed under that id is not the one that encrypted it, or ` +
          `the stored value was altered`,
        e.k,
      );
    }
  }

  /**
   * JSON text with every envelope in it opened. Strict: a value that cannot be opened throws DecryptionError.
   * Lenient: it is left sealed, for readers that show it as encrypted.
   */
  open(text: string, strict: boolean): string {
    if (!text.includes(ENVELOPE_MARK)) return text;
    const value = JSON.parse(text) as unknown;
    if (isEnvelope(value)) {
      try {
        return this.open(this.openEnvelope(value), strict);
      } catch (error) {
        if (strict || !(error instanceof DecryptionError)) throw error;
        return text;
      }
    }
    const opened = this.openValue(value, strict);
    return opened === value ? text : JSON.stringify(opened);
  }

  /** A parsed value with every envelope in it opened (see open()). */
  openValue(value: unknown, strict: boolean): unknown {
    return mapEnvelopes(value, (e) => {
      try {
        return this.openValue(JSON.parse(this.openEnvelope(e)), strict);
      } catch (error) {
        if (strict || !(error instanceof DecryptionError)) throw error;
        return e;
      }
    });
  }
}

/** The keys of `encryption` (or, when absent, of ERRAND_ENCRYPTION_KEYS: "id:base64,id:base64", newest first). */
export function sealerFrom(option: unknown, env: string | undefined): Sealer | null {
  if (option !== undefined) return new Sealer(option as EncryptionOptions, "new Errand(): encryption");
  if (env === undefined || env.trim() === "") return null;
  const keys = env.split(",").map((entry, i) => {
    const at = entry.indexOf(":");
    if (at <= 0) {
      throw new InvalidArgsError(
        `ERRAND_ENCRYPTION_KEYS: entry ${i + 1} is not "<id>:<base64 key>"; list the keys newest first, e.g. ` +
          `ERRAND_ENCRYPTION_KEYS=2026-12:<base64>,2026-06:<base64>.`,
      );
    }
    return { id: entry.slice(0, at).trim(), key: entry.slice(at + 1).trim() };
  });
  return new Sealer({ keys }, "ERRAND_ENCRYPTION_KEYS");
}

function checkKeys(options: EncryptionOptions, where: string): Map<string, KeyObject> {
  const hint = `e.g. { keys: [{ id: "2026-12", key: "<32 bytes in base64: openssl rand -base64 32>" }] }`;
  if (typeof options !== "object" || options === null || !Array.isArray(options.keys) || options.keys.length === 0) {
    throw new InvalidArgsError(`${where} must list at least one key, newest first, ${hint}.`);
  }
  const unknown = Object.keys(options).filter((k) => k !== "keys");
  if (unknown.length > 0) throw new InvalidArgsError(`${where}: unknown option "${unknown[0]}"; it takes only keys.`);
  const keys = new Map<string, KeyObject>();
  options.keys.forEach((entry: unknown, i) => {
    const at = `${where} key ${i + 1}`;
    if (typeof entry !== "object" || entry === null) throw new InvalidArgsError(`${at} must be { id, key }, ${hint}.`);
    const { id, key } = entry as { id?: unknown; key?: unknown };
    if (typeof id !== "string" || !KEY_ID.test(id)) {
      // Not echoed: an id and key given the wrong way round would print the key.
      const got = typeof id === "string" ? `${id.length} characters that are not all of those` : typeof id;
      throw new InvalidArgsError(
        `${at}: id must be 1 to 64 letters, digits, ".", "_" or "-" (it is stored with what the key seals), got ${got}` +
          (typeof id === "string" && id.length >= 40
            ? "; it looks like a key: are the id and the key the wrong way round?"
            : "") +
          ".",
      );
    }
    if (keys.has(id)) throw new InvalidArgsError(`${at}: id "${id}" is listed twice; each key needs its own id.`);
    let bytes: Buffer;
    if (typeof key === "string") {
      if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(key.trim())) {
        throw new InvalidArgsError(`${at} ("${id}"): key is not base64 text; give 32 random bytes in base64, ${hint}.`);
      }
      bytes = Buffer.from(key.trim(), "base64");
    } else if (key instanceof Uint8Array) {
      bytes = Buffer.from(key);
    } else {
      throw new InvalidArgsError(`${at} ("${id}"): key must be base64 text or a Uint8Array of 32 bytes, ${hint}.`);
    }
    if (bytes.length !== 32) {
      // The key itself is never echoed.
      throw new InvalidArgsError(
        `${at} ("${id}"): key is ${bytes.length} bytes${typeof key === "string" ? " once decoded from base64" : ""}; ` +
          `AES-256-GCM needs exactly 32 (make one with: openssl rand -base64 32).`,
      );
    }
    keys.set(id, createSecretKey(bytes));
  });
  return keys;
}
