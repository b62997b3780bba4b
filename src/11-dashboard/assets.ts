// The dashboard's only stylesheet and script, served from the package (no CDN, nothing fetched at run time).

export const CSS = `*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,sans-serif;color:#1d232b;background:#f6f7f9}
header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.2rem;background:#1d232b}header a{color:#e8edf3;text-decoration:none}
.brand{font-weight:700;font-size:1.1rem}nav{display:flex;gap:1rem}main{max-width:72rem;margin:0 auto;padding:1rem 1.2rem}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8rem 1rem;margin:0 0 1rem}h1{font-size:1.4rem}h2{font-size:1.05rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:.3rem .5rem;border-bottom:1px solid #eceff3;text-align:left;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums}.total th,.total td{font-weight:600}
.banner{background:#fff4d6;border:1px solid #e7c35a;border-radius:6px;padding:.6rem .8rem;font-weight:600}
.state{padding:.05rem .45rem;border-radius:9px;background:#e8edf3}.state.failed{background:#fde2e1;color:#9b1c1c}.state.succeeded{background:#def7e5;color:#176434}
.state.running{background:#e0ecff;color:#1a4fa0}.state.scheduled{background:#f1e8ff}.state.cancelled{background:#eee;color:#555}
pre{background:#f6f8fa;border:1px solid #e3e6ea;border-radius:4px;padding:.6rem;overflow:auto;white-space:pre-wrap;word-break:break-word}
form.action{display:inline}button{font:inherit;padding:.3rem .8rem;border:1px solid #98a2ae;border-radius:4px;background:#fff;cursor:pointer}
button.danger{border-color:#c24141;color:#9b1c1c}.actions{display:flex;gap:.5rem;margin:1rem 0}.filters{display:flex;gap:.6rem;flex-wrap:wrap;align-items:end;margin:0 0 1rem}
.filters label{display:grid;font-size:.85rem;color:#555}input,select{font:inherit;padding:.25rem}dl.fields{display:grid;grid-template-columns:8rem 1fr;gap:.2rem .8rem}
dt{color:#555}dd{margin:0}details.error{border-left:3px solid #c24141;padding-left:.6rem;margin:.4rem 0}
.chart{width:100%;height:auto}.chart text{font-size:10px;fill:#555}.chart .ok{fill:#4f9a6b}.chart .bad{fill:#c24141}
ol.runs{margin:0;padding-left:1.1rem}small{color:#555}.actions-cell{white-space:nowrap}.notice{background:#e0ecff;border-color:#8fb0e0}
tr:target{background:#fffbe6}.schedules code,ol.runs time{white-space:nowrap}
a.button{display:inline-block;margin-left:.4rem;padding:.2rem .7rem;border:1px solid #98a2ae;border-radius:4px;background:#fff;color:inherit;text-decoration:none}`;

export const JS = `// errand dashboard: confirmations for actions, and live refresh of the parts marked data-live.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});
for (const el of document.querySelectorAll("[data-live]")) {
  const refresh = async () => {
    try {
      const response = await fetch(el.getAttribute("data-live"), { headers: { accept: "text/html" } });
      if (response.ok) el.innerHTML = await response.text();
    } catch {}
    setTimeout(refresh, 2000);
  };
  setTimeout(refresh, 2000);
}
`;
