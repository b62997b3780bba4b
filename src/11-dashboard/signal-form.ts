// The dashboard's form that sends a job a signal (POST <base>/jobs/:id/signal; the form is in views.ts).
import type { SignalSent } from "../02-storage/signals.js";
import type { Errand } from "../10-client/errand.js";

/** The form's signal, sent: a status and a sentence for the page. */
export async function sendFormSignal(
  errand: Pick<Errand, "signal">,
  id: string,
  form: URLSearchParams,
): Promise<{ status: number; text: string }> {
  const name = form.get("name") ?? "";
  const raw = (form.get("payload") ?? "").trim();
  let payload: unknown;
  if (raw !== "") {
    try {
      payload = JSON.parse(raw);
    } catch {
      return {
        status: 400,
        text: `The payload is not JSON (write a JSON value, e.g. {"approved": true}). Nothing was sent.`,
      };
    }
  }
  let sent: SignalSent;
  try {
    sent = await errand.signal(id, name, payload);
  } catch (error) {
    if ((error as { code?: string }).code !== "ERRAND_INVALID") throw error;
    return { status: 400, text: (error as Error).message };
  }
  if (sent.sent) return { status: 303, text: "" };
  return sent.reason === "ended"
    ? {
        status: 409,
        text: `Job ${id} is ${sent.state ?? "finished"}: a signal can no longer reach it. Nothing was sent.`,
      }
    : { status: 404, text: `There is no job ${id} (it may have been pruned or deleted). Nothing was sent.` };
}
