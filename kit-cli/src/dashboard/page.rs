//! The dashboard's page: the table rendered on the server, then kept
//! current (with rate and p99 charts per endpoint) by a small script that
//! polls `/api/fleet`. No front-end toolchain: one HTML string.

use std::fmt::Write as _;

use super::Fleetview;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The table's rows as HTML (the script renders the same markup).
fn rows(view: &Fleetview) -> String {
    let mut out = String::new();
    let Some(snapshot) = &view.snapshot else {
        return "<tr><td colspan=\"9\">waiting for the first scrapes</td></tr>".into();
    };
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for r in &snapshot.endpoints {
        let codes: Vec<String> = r
            .stats
            .errors
            .iter()
            .map(|(c, x)| format!("{c} {:.1}%", x * 100.0))
            .collect();
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}.{}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.1}%</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            if r.outliers.is_empty() { "" } else { "outlier" },
            esc(&r.instance),
            esc(&r.version),
            esc(&r.service),
            esc(&r.endpoint),
            r.stats.rate,
            r.stats.error_ratio * 100.0,
            ms(r.stats.p50_ms),
            ms(r.stats.p99_ms),
            r.stats.in_flight,
            esc(&codes.join(", ")),
            esc(&r.outliers.join(", ")),
        );
    }
    for m in &snapshot.instances {
        if let Some(e) = &m.error {
            let _ = write!(
                out,
                "<tr class=\"down\"><td>{}</td><td colspan=\"9\">{}</td></tr>",
                esc(&m.instance),
                esc(e)
            );
        }
    }
    out
}

pub fn render(view: &Fleetview) -> String {
    PAGE.replace("@ROWS@", &rows(view))
        .replace("@WINDOW@", &format!("{:.0}s", view.window_seconds))
}

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kit dashboard</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .3em; }
#status { color: #666; margin-bottom: 1em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #ddd; text-align: left; }
th { background: #f3f3f3; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.outlier td { color: #b00; font-weight: bold; }
tr.down td { color: #a60; }
#charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
.chart { border: 1px solid #ddd; padding: .5em .8em; }
.chart h2 { font-size: 1em; margin: 0 0 .3em; }
.legend span { margin-right: 1em; font-size: 12px; }
svg text { font-size: 10px; fill: #666; }
</style>
</head>
<body>
<h1>kit dashboard</h1>
<div id="status">rates and quantiles over a @WINDOW@ window; outliers in red</div>
<table id="fleet">
<thead><tr><th>instance</th><th>version</th><th>endpoint</th><th>req/s</th><th>errors</th><th>p50 ms</th><th>p99 ms</th><th>in flight</th><th>codes</th><th>outlier</th></tr></thead>
<tbody>@ROWS@</tbody>
</table>
<div id="charts"></div>
<script>
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const num = (v, d) => v == null ? '-' : v.toFixed(d);
const colors = ['#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#7f7f7f'];

function row(r) {
  const codes = Object.entries(r.errors).map(([c, x]) => c + ' ' + (x * 100).toFixed(1) + '%').join(', ');
  return '<tr class="' + (r.outliers.length ? 'outlier' : '') + '"><td>' + esc(r.instance) + '</td><td>' + esc(r.version) +
    '</td><td>' + esc(r.service + '.' + r.endpoint) + '</td><td class="n">' + num(r.rate, 1) +
    '</td><td class="n">' + num(r.error_ratio * 100, 1) + '%</td><td class="n">' + num(r.p50_ms, 1) +
    '</td><td class="n">' + num(r.p99_ms, 1) + '</td><td class="n">' + r.in_flight + '</td><td>' + esc(codes) +
    '</td><td>' + esc(r.outliers.join(', ')) + '</td></tr>';
}

function chart(title, series, index, unit) {
  const w = 420, h = 130, pad = 30;
  let t0 = Infinity, t1 = -Infinity, top = 0;
  for (const points of Object.values(series)) for (const p of points) {
    t0 = Math.min(t0, p[0]); t1 = Math.max(t1, p[0]);
    if (p[index] != null) top = Math.max(top, p[index]);
  }
  if (!isFinite(t0)) return '';
  top = top > 0 ? top * 1.1 : 1;
  const x = t => pad + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (w - pad - 5);
  const y = v => h - 15 - (v / top) * (h - 25);
  let svg = '<svg width="' + w + '" height="' + h + '" role="img" aria-label="' + esc(title) + '">';
  svg += '<line x1="' + pad + '" y1="' + (h - 15) + '" x2="' + w + '" y2="' + (h - 15) + '" stroke="#ccc"/>';
  svg += '<text x="0" y="12">' + top.toFixed(1) + ' ' + unit + '</text><text x="0" y="' + (h - 15) + '">0</text>';
  svg += '<text x="' + pad + '" y="' + (h - 2) + '">-' + Math.round(t1 - t0) + 's</text><text x="' + (w - 25) + '" y="' + (h - 2) + '">now</text>';
  let i = 0, legend = '';
  for (const [instance, points] of Object.entries(series)) {
    const c = colors[i++ % colors.length];
    const pts = points.filter(p => p[index] != null).map(p => x(p[0]).toFixed(1) + ',' + y(p[index]).toFixed(1)).join(' ');
    svg += '<polyline class="series" data-instance="' + esc(instance) + '" fill="none" stroke="' + c + '" stroke-width="1.5" points="' + pts + '"/>';
    legend += '<span style="color:' + c + '">&#9632; ' + esc(instance) + '</span>';
  }
  return '<div class="chart"><h2>' + esc(title) + '</h2>' + svg + '</svg><div class="legend">' + legend + '</div></div>';
}

function render(d) {
  const s = d.snapshot;
  if (!s) return;
  let body = s.endpoints.map(row).join('');
  for (const m of s.instances) if (m.error) body += '<tr class="down"><td>' + esc(m.instance) + '</td><td colspan="9">' + esc(m.error) + '</td></tr>';
  document.querySelector('#fleet tbody').innerHTML = body;
  let charts = '';
  for (const [endpoint, series] of Object.entries(d.history)) {
    const busy = Object.values(series).some(points => points.some(p => p[1] > 0));
    if (!busy) continue;
    charts += chart(endpoint + ' req/s', series, 1, 'req/s') + chart(endpoint + ' p99', series, 2, 'ms');
  }
  document.getElementById('charts').innerHTML = charts;
  document.getElementById('status').textContent = s.instances.length + ' instances, rates and quantiles over a ' +
    d.window_seconds.toFixed(0) + 's window, outliers in red; updated ' + new Date().toLocaleTimeString();
}

async function refresh() {
  try {
    render(await (await fetch('/api/fleet')).json());
  } catch (e) {
    document.getElementById('status').textContent = 'the dashboard does not answer: ' + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"##;
