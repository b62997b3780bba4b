// The throughput chart of the overview: jobs succeeded and failed per minute, as an SVG the server draws.
import type { MinuteCount } from "../02-storage/reads.js";
import { escapeHtml, raw, type Html } from "./html.js";

export function throughputChart(minutes: readonly MinuteCount[]): Html {
  const width = 720;
  const height = 160;
  const pad = { left: 40, right: 10, top: 10, bottom: 24 };
  const max = Math.max(1, ...minutes.map((m) => m.succeeded + m.failed));
  const barW = (width - pad.left - pad.right) / Math.max(1, minutes.length);
  const y = (v: number) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const bars = minutes
    .map((m, i) => {
      if (m.succeeded + m.failed === 0) return "";
      const x = pad.left + i * barW;
      const ok = `<rect class="ok" x="${x.toFixed(1)}" y="${y(m.succeeded + m.failed).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${(y(m.failed) - y(m.succeeded + m.failed)).toFixed(1)}"><title>${escapeHtml(new Date(m.minute).toISOString().slice(11, 16))}: ${m.succeeded} succeeded, ${m.failed} failed</title></rect>`;
      const bad =
        m.failed > 0
          ? `<rect class="bad" x="${x.toFixed(1)}" y="${y(m.failed).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${(y(0) - y(m.failed)).toFixed(1)}"/>`
          : "";
      return ok + bad;
    })
    .join("");
  const axis =
    `<text x="${pad.left - 4}" y="${pad.top + 8}" text-anchor="end">${max}</text><text x="${pad.left - 4}" y="${y(0)}" text-anchor="end">0</text>` +
    `<text x="${pad.left}" y="${height - 6}">${minutes.length} min ago</text><text x="${width - pad.right}" y="${height - 6}" text-anchor="end">now</text>`;
  return raw(
    `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="jobs finished per minute, last hour">${axis}${bars}</svg>`,
  );
}
