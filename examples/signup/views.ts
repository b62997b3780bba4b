// Server-rendered pages. Everything that came from a user or a job goes through esc().
import type { ReceivedMail } from "./smtp.js";

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}form{display:grid;gap:.6rem;margin:1rem 0}label{display:grid;gap:.2rem}
input{font:inherit;padding:.4rem}button{font:inherit;padding:.5rem 1rem;cursor:pointer}
.row{display:flex;gap:.6rem;flex-wrap:wrap}.error{color:#a00;font-weight:600}.note{color:#555}
.banner{background:#fff3cd;border:1px solid #e0c060;padding:.6rem;margin:1rem 0}.ok{background:#e8f5e9;padding:.6rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}
progress{width:100%}nav a{margin-right:1rem}#upload{display:flex;gap:.6rem;align-items:center}`;

export function layout(title: string, body: string, banner: string | null = null): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head><body>
<nav><a href="/">Sign up</a><a href="/emails">Received emails</a><a href="/images">Thumbnails</a></nav>
${banner ? `<p class="banner" role="alert">${esc(banner)}</p>` : ""}${body}</body></html>`;
}

export interface SignupForm {
  name: string;
  email: string;
}

export function signupPage(values: SignupForm, error: string | null, banner: string | null): string {
  return layout(
    "Sign up",
    `<h1>Sign up</h1>
<p class="note">Both buttons store the user and send a welcome email through the SMTP server, which takes a while to
accept each mail. <b>Blocking</b> sends it inside the request; <b>errand</b> enqueues it in the same transaction as
the user and answers at once, and a worker sends it.</p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ""}
<form method="post" action="/signup/errand">
<label>Name <input name="name" value="${esc(values.name)}" maxlength="100" autocomplete="name"></label>
<label>Email <input name="email" type="email" value="${esc(values.email)}" maxlength="254" autocomplete="email"></label>
<div class="row"><button type="submit" id="errand">Sign up (errand: enqueue)</button>
<button type="submit" id="blocking" formaction="/signup/blocking">Sign up (blocking: send inline)</button></div>
</form>`,
    banner,
  );
}

/** %HANDLER_MS% is filled in as the response goes out, with the handler's own time. */
export function welcomePage(
  how: "errand" | "blocking",
  user: { id: number; name: string; email: string },
  detail: string,
  watch?: string,
): string {
  // The errand route's page follows the email's job and says when it has been sent.
  const live = watch
    ? `<p id="email" data-watch="${esc(watch)}" aria-live="polite">The welcome email is on its way…</p>
<script type="module" src="/static/welcome.js"></script>`
    : "";
  return layout(
    "Welcome",
    `<h1>Welcome, ${esc(user.name)}!</h1>
<p class="ok" id="result" data-route="${how}">Signed up the <b>${how}</b> way: ${esc(detail)}
This page's handler took %HANDLER_MS% ms.</p>${live}
<p><a href="/">Sign up someone else</a> · <a href="/emails">See the received emails</a></p>`,
  );
}

export function emailsPage(mails: readonly ReceivedMail[], banner: string | null): string {
  const rows = [...mails]
    .reverse()
    .slice(0, 200)
    .map(
      (m) =>
        `<tr><td>${esc(new Date(m.receivedAt).toISOString())}</td><td>${esc(m.to)}</td><td>${esc(m.subject)}</td></tr>`,
    )
    .join("");
  return layout(
    "Received emails",
    `<h1>Received emails</h1><p class="note">What the demo's SMTP server accepted (newest first; ${mails.length} in all).</p>
<table><thead><tr><th>received</th><th>to</th><th>subject</th></tr></thead><tbody>${rows}</tbody></table>`,
    banner,
  );
}

export function imagesPage(banner: string | null): string {
  return layout(
    "Thumbnails",
    `<h1>Thumbnails</h1>
<p class="note">Pick a picture: the upload answers at once with a job id; a worker makes the thumbnails with sharp and
reports its progress, streamed to this page as it happens (no polling) until the thumbnail appears.</p>
<form id="upload"><input type="file" id="file" accept="image/*"> <button type="submit">Upload</button></form>
<p id="status" aria-live="polite"></p><progress id="progress" max="100" value="0" hidden></progress>
<p><img id="thumbnail" alt="" hidden></p>
<script type="module" src="/static/images.js"></script>`,
    banner,
  );
}
