// Child processes a test started, ended for good whatever state they are in.
import type { ChildProcess } from "node:child_process";

/** SIGKILLs those still running and resolves once each has exited. */
export async function killAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }),
  );
}
