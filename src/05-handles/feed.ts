// An async iterator fed by callbacks: what watch() hands out. Updates queue until read; end() lets the reader finish
// what is queued, fail() throws after it; return() (a `break` out of for await) or the signal stops it at once.
export interface Feed<T> {
  push(value: T): void;
  fail(error: Error): void;
  end(): void;
  readonly ended: boolean;
}

/** Runs `start` (which returns its unsubscribe) and iterates what it feeds. */
export function feedIterator<T>(start: (feed: Feed<T>) => () => void, signal?: AbortSignal): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let failure: Error | null = null;
  let ended = false;
  let wake: (() => void) | null = null;
  let off: (() => void) | null = null;
  const end = () => {
    if (ended) return;
    ended = true;
    off?.();
    off = null;
    signal?.removeEventListener("abort", end);
    wake?.();
  };
  const feed: Feed<T> = {
    push(value) {
      if (ended) return;
      queue.push(value);
      wake?.();
    },
    fail(error) {
      if (ended) return;
      failure = error;
      end();
    },
    end,
    get ended() {
      return ended;
    },
  };
  off = start(feed);
  if (ended) {
    off();
    off = null;
  }
  if (signal?.aborted) end();
  else signal?.addEventListener("abort", end);
  const it: AsyncIterableIterator<T> = {
    async next() {
      for (;;) {
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        if (failure) {
          const error = failure;
          failure = null;
          throw error;
        }
        if (ended) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    },
    async return() {
      queue.length = 0;
      failure = null;
      end();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

/** An async iterator whose source is made on the first next(): the handle's backend may still be opening. */
export function lazyIterator<T>(make: () => Promise<AsyncIterableIterator<T>>): AsyncIterableIterator<T> {
  let inner: Promise<AsyncIterableIterator<T>> | null = null;
  const get = () => (inner ??= make());
  const it: AsyncIterableIterator<T> = {
    next: async () => (await get()).next(),
    return: async () => {
      if (inner) await (await inner.catch(() => emptyIterator<T>())).return?.();
      inner = Promise.resolve(emptyIterator<T>());
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}

function emptyIterator<T>(): AsyncIterableIterator<T> {
  const it: AsyncIterableIterator<T> = {
    next: async () => ({ value: undefined, done: true }),
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}
