// The errand route's welcome page: follows the welcome email's job and says when the email has been sent.
import { watchJob } from "/static/errand-browser.js";

const line = document.getElementById("email");
watchJob(line.dataset.watch, {
  onUpdate(job) {
    if (job.event === "state" && job.state === "running") line.textContent = "Sending the welcome email…";
    if (job.event === "state" && job.attempt > 1)
      line.textContent = `Sending the welcome email (attempt ${job.attempt})…`;
  },
  onDone(job) {
    line.dataset.state = job.state;
    line.textContent =
      job.event === "succeeded"
        ? `The welcome email has been sent (${new Date().toLocaleTimeString()}).`
        : `The welcome email could not be sent: ${job.error?.message ?? job.state}.`;
  },
  onError(error) {
    line.textContent = error.message;
  },
});
