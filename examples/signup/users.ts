// The app's own table, in errand's SQLite file, so that a signup and its welcome-email job commit together.
import Database from "better-sqlite3";

export interface User {
  id: number;
  name: string;
  email: string;
}

export interface Users {
  db: Database.Database;
  exists(email: string): boolean;
  insert(name: string, email: string, route: string): User;
  close(): void;
}

export function openUsers(file: string): Users {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // A worker may be writing; its writes last microseconds, so a short synchronous wait is enough.
  db.pragma("busy_timeout = 2000");
  db.exec(`CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL UNIQUE, route TEXT NOT NULL, created_at INTEGER NOT NULL)`);
  const insert = db.prepare("INSERT INTO users (name, email, route, created_at) VALUES (?, ?, ?, ?)");
  const byEmail = db.prepare("SELECT id FROM users WHERE email = ?");
  return {
    db,
    exists: (email: string) => byEmail.get(email) !== undefined,
    insert(name: string, email: string, route: string): User {
      const info = insert.run(name, email, route, Date.now());
      return { id: Number(info.lastInsertRowid), name, email };
    },
    close: () => db.close(),
  };
}

const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

/** The form's fields, trimmed, or what is wrong with them. */
export function validateSignup(
  body: unknown,
): { ok: true; name: string; email: string } | { ok: false; name: string; email: string; error: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  const name = typeof b.name === "string" ? b.name.trim() : "";
  const email = typeof b.email === "string" ? b.email.trim().toLowerCase() : "";
  if (name === "") return { ok: false, name, email, error: "Please enter your name." };
  if (name.length > 100) return { ok: false, name, email, error: "Your name is longer than 100 characters." };
  if (email === "") return { ok: false, name, email, error: "Please enter your email address." };
  if (email.length > 254 || !EMAIL.test(email))
    return { ok: false, name, email, error: `"${email}" is not an email address (like ada@example.com).` };
  return { ok: true, name, email };
}
