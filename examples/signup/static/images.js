// Uploads the picked image as the request body, then follows its job's watch stream until the thumbnail is ready.
import { watchJob } from "/static/errand-browser.js";

const form = document.getElementById("upload");
const status = document.getElementById("status");
const bar = document.getElementById("progress");
const img = document.getElementById("thumbnail");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = document.getElementById("file").files[0];
  if (!file) return;
  img.hidden = true;
  const t0 = performance.now();
  const response = await fetch("/images", {
    method: "POST",
    headers: { "content-type": file.type || "application/octet-stream" },
    body: file,
  });
  const answer = await response.json();
  if (!response.ok) {
    status.textContent = answer.error;
    return;
  }
  status.textContent = `Uploaded in ${Math.round(performance.now() - t0)} ms: job ${answer.jobId} queued.`;
  bar.hidden = false;
  watchJob(answer.watch, {
    onUpdate(job) {
      bar.value = job.progress?.percent ?? 0;
      status.textContent = `Job ${answer.jobId}: ${job.state}${job.progress ? ` (${job.progress.step})` : ""}`;
    },
    onDone(job) {
      if (job.event !== "succeeded") return;
      img.src = `/thumbnails/${encodeURIComponent(job.result.thumbnail)}`;
      img.alt = "thumbnail";
      img.hidden = false;
    },
    onError(error) {
      status.textContent = error.message;
    },
  });
});
