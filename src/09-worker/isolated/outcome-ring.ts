import type { Settled } from "../executor.js";

/** Bytes of outcomes a thread can hold for its worker before it posts one directly. */
export const RING_BYTES = 1 << 20;
/**
 * Two uint32s before the data: [0] bytes ever written (published), [1] bytes ever read, both modulo 2^32 (their
 * difference, taken modulo 2^32 too, never passes the buffer's size).
 */
const HEADER_BYTES = 8;

/** One attempt that ended: [job id, how]. */
export type Told = [string, Settled];

/**
 * Outcomes a worker thread hands its worker through shared memory: written before the thread's next handler starts,
 * so that a thread stopped then (a timeout, a memory limit, an exit) loses none of them, and read in batches when
 * the thread rings (one message per turn) or once it has ended. A record is a length and its JSON; it counts only
 * once the write position moves past it, so a thread stopped halfway through a write leaves nothing half-read.
 */
export class OutcomeRing {
  private readonly head: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private readonly size: number;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(readonly buffer: SharedArrayBuffer) {
    this.head = new Int32Array(buffer, 0, 2);
    this.data = new Uint8Array(buffer, HEADER_BYTES);
    this.view = new DataView(buffer, HEADER_BYTES);
    this.size = this.data.length;
  }

  static create(): OutcomeRing {
    return new OutcomeRing(new SharedArrayBuffer(HEADER_BYTES + RING_BYTES));
  }

  /**
   * Writes one outcome; false when there is no room for it (the caller sends it another way). A record never wraps:
   * where it does not fit before the end of the buffer, a skip mark sends the reader back to its start.
   */
  write(told: Told): boolean {
    const text = JSON.stringify(told);
    const written = Atomics.load(this.head, 0) >>> 0;
    const free = this.size - ((written - Atomics.load(this.head, 1)) >>> 0);
    const at = written % this.size;
    // Bytes past the free space are unread records'; bytes not yet published are nobody's.
    const here = Math.min(this.size - at, free);
    let length = here >= 4 ? this.encode(text, at, here) : -1;
    let end = written + 4 + length;
    if (length < 0) {
      const skip = this.size - at;
      length = free - skip >= 4 ? this.encode(text, 0, free - skip) : -1;
      if (length < 0) return false;
      if (skip >= 4) this.view.setUint32(at, SKIP);
      end = written + skip + 4 + length;
    }
    // Published last: a reader sees the record (and the skip mark) whole, or not at all.
    Atomics.store(this.head, 0, end | 0);
    return true;
  }

  /** Encodes `text` as a record at `at` within `room` bytes; its length, or -1 if it does not fit. */
  private encode(text: string, at: number, room: number): number {
    const { read, written } = this.encoder.encodeInto(text, this.data.subarray(at + 4, at + room));
    if (read < text.length) return -1;
    this.view.setUint32(at, written);
    return written;
  }

  /** Every outcome written and not read yet, in order. */
  read(): Told[] {
    const out: Told[] = [];
    const written = Atomics.load(this.head, 0) >>> 0;
    let position = Atomics.load(this.head, 1) >>> 0;
    while (position !== written) {
      const at = position % this.size;
      // Fewer than 4 bytes left before the end, or a skip mark: the next record is at the start.
      if (this.size - at < 4 || this.view.getUint32(at) === SKIP) {
        position = (position + this.size - at) >>> 0;
        continue;
      }
      const length = this.view.getUint32(at);
      // TextDecoder reads no shared memory: a copy.
      out.push(JSON.parse(this.decoder.decode(this.data.slice(at + 4, at + 4 + length))) as Told);
      position = (position + 4 + length) >>> 0;
    }
    Atomics.store(this.head, 1, position | 0);
    return out;
  }
}

/** A record's length that says: the rest of the buffer is skipped. */
const SKIP = 0xffffffff;
