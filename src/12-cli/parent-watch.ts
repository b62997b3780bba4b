// `npx errand worker` runs the worker under npm and a shell; npm killed with SIGTERM (by a supervisor, a container
// runtime, a deploy script) exits without passing the signal on, and the worker would run on, orphaned. So the
// worker also stops, as on SIGTERM, when the process that started it is gone: its parent pid changes (to init or to
// a subreaper) once that process has exited.

/** How often the parent is looked at: one getppid() a second costs nothing. */
const EVERY_MS = 1000;

/** Calls `onGone(pid)` once, when the parent this process started with is gone. Returns the stop. */
export function watchParent(onGone: (parent: number) => void): () => void {
  const parent = process.ppid;
  // Started by init, or by nothing we can tell apart from it: nothing to watch.
  if (parent <= 1) return () => {};
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
