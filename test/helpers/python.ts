// A Python with Django and psycopg 3 for the tests that run the Django example: a virtual environment of its own,
// made once (pip installs from the machine's package index) and kept in the user's cache.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const VENV = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "errand-test", "django-venv");
const PACKAGES = ["django>=5.2,<6", "psycopg[binary]>=3"];

/** The venv's python, or why there is none (no python3, or pip could not install the packages). */
export function djangoPython(): { python: string } | { why: string } {
  const python = join(VENV, "bin", "python");
  const ready = () =>
    existsSync(python) && spawnSync(python, ["-c", "import django, psycopg"], { stdio: "ignore" }).status === 0;
  if (ready()) return { python };
  const made = spawnSync("python3", ["-m", "venv", VENV], { encoding: "utf8" });
  if (made.status !== 0) return { why: `python3 -m venv failed: ${(made.stderr || made.error?.message || "").trim()}` };
  const pip = spawnSync(python, ["-m", "pip", "install", "-q", ...PACKAGES], { encoding: "utf8" });
  if (pip.status !== 0 || !ready()) {
    return {
      why: `pip install ${PACKAGES.join(" ")} failed: ${(pip.stderr || "").trim().split("\n").slice(-3).join(" ")}`,
    };
  }
  return { python };
}
