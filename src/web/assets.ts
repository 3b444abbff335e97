import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Third-party files served from node_modules (a home may be offline: no CDN). */
export const VENDOR_ASSETS: Record<string, { file: string; type: string }> = {
  'htmx.min.js': { file: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { file: require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** The dashboard's own stylesheet: a few KB, readable on a 375 px phone, state never by colour alone. */
export const SLUICE_CSS = `
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.45;color:#1b1f23;background:#f6f7f9}
body{margin:0}
header{background:#12355b;color:#fff;padding:.5rem 1rem}
header a{color:#fff}
.brand{margin:.2rem 0;font-weight:700}
.brand span{font-weight:400;font-size:.85rem;opacity:.9}
nav{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem;justify-content:space-between}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem}
nav a{display:inline-block;padding:.35rem .6rem;border-radius:4px;text-decoration:none}
nav a[aria-current=page]{background:#fff;color:#12355b;font-weight:700;text-decoration:underline}
nav a:focus,button:focus,a:focus,input:focus,select:focus{outline:3px solid #f5a623;outline-offset:2px}
.logout button{background:transparent;color:#fff;border:1px solid #fff}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
section,.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.75rem 1rem;margin:0 0 1rem}
.banner{border-left:6px solid #b35900;background:#fff4e5;padding:.6rem 1rem;margin:0 0 1rem}
.banner.bad{border-color:#a40e26;background:#ffebe9}
.banner.ok{border-color:#1a7f37;background:#dafbe1}
.badge{display:inline-block;border:1px solid currentColor;border-radius:1rem;padding:0 .5rem;font-size:.85rem;margin:.1rem 0}
.badge.home{color:#1a5e2a}
.badge.shared{color:#8a4600}
.table-wrap{overflow-x:auto;max-width:100%;margin:0 0 1rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}
td{overflow-wrap:break-word}
code{overflow-wrap:anywhere}
button,.button{font:inherit;background:#12355b;color:#fff;border:0;border-radius:4px;padding:.45rem .9rem;cursor:pointer;text-decoration:none;display:inline-block}
button.danger,.button.danger{background:#a40e26}
button.secondary,.button.secondary{background:#fff;color:#12355b;border:1px solid #12355b}
form.inline{display:inline}
label{display:block;font-weight:600;margin:.5rem 0 .2rem}
input,select{font:inherit;padding:.35rem;border:1px solid #8c959f;border-radius:4px;max-width:100%}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;border:1px solid #d0d7de;padding:.5rem;font-size:.85rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}
dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}
.chart{width:100%;min-height:240px}
.muted{color:#57606a}
.check{display:flex;gap:.5rem;align-items:center;margin:.25rem 0 .5rem}
.check label{display:inline;margin:0}
input[type=checkbox]{width:1.25rem;height:1.25rem;margin:0}
ul.reasons li{margin:.2rem 0}
ul.plain{list-style:none;margin:0;padding:0}
h3{font-size:1.05rem;margin:.25rem 0 .5rem}
.fields{display:flex;flex-wrap:wrap;gap:0 1rem}
.fields p{margin:0}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.75rem 0}
@media (max-width:40rem){
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
table.stack caption{display:block;text-align:left}
table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.stack tr{border:1px solid #d0d7de;border-radius:6px;margin:0 0 .5rem;padding:.25rem .5rem;background:#fff}
table.stack td{border:0;padding:.15rem 0}
table.stack td[data-label]::before{content:attr(data-label) ": ";font-weight:600}
}
@media (max-width:40rem){
header{position:relative;padding:.4rem .5rem}
nav a{padding:.3rem .45rem}
.logout{position:absolute;top:.3rem;right:.5rem}
.logout button{padding:.2rem .6rem;font-size:.9rem}
.brand span{display:none}
}
@media (max-width:30rem){dl{grid-template-columns:1fr}dd{margin-bottom:.3rem}main{padding:.5rem}}
`;

/** The dashboard's one script: charts and live values. Loaded as a file, never inline (CSP). */
export const SLUICE_JS = `
(function(){
  'use strict';
  function charts(){
    document.querySelectorAll('[data-chart]').forEach(function(el){
      if (el.dataset.drawn) return;
      el.dataset.drawn = '1';
      fetch(el.dataset.chart, {credentials:'same-origin', headers:{'Accept':'application/json'}})
        .then(function(r){ return r.ok ? r.json() : Promise.reject(new Error('HTTP ' + r.status)); })
        .then(function(d){
          var status = el.querySelector('.chart-status');
          if (!d.series.length || !d.series[0].ts.length) { if (status) status.textContent = 'No readings in this range.'; return; }
          if (status) status.textContent = d.series[0].ts.length + ' readings shown' + d.series.slice(1).map(function(s){ return '; ' + s.label + ': ' + (s.ts.length / 2) + ' windows'; }).join('') + '.';
          var seen = new Set(); var xs = [];
          d.series.forEach(function(s){ s.ts.forEach(function(t){ if (!seen.has(t)) { seen.add(t); xs.push(t); } }); });
          xs.sort(function(a, b){ return a - b; });
          xs = xs.map(function(t){ return t / 1000; });
          var data = [xs];
          var series = [{}];
          var colours = ['#12355b', '#b35900'];
          var dashes = [[], [6, 4]];
          d.series.forEach(function(s, i){
            var byTs = new Map(); s.ts.forEach(function(t, j){ byTs.set(t / 1000, s.values[j]); });
            data.push(xs.map(function(x){ return byTs.has(x) ? byTs.get(x) : null; }));
            series.push({label: s.label, stroke: colours[i % 2], dash: dashes[i % 2], width: 2, spanGaps: true, points:{show: s.points === true, size: 8}});
          });
          var width = Math.max(280, el.clientWidth || 320);
          var plot = el.querySelector('.plot');
          new uPlot({width: width, height: 220, series: series, axes: [{}, {label: d.unit || ''}]}, data, plot);
        })
        .catch(function(e){ var s = el.querySelector('.chart-status'); if (s) s.textContent = 'The chart could not be loaded: ' + e.message; });
    });
  }
  function live(){
    document.querySelectorAll('[data-live]').forEach(function(el){
      if (el.dataset.listening || !window.EventSource) return;
      el.dataset.listening = '1';
      var source = new EventSource(el.dataset.live);
      source.addEventListener('latest', function(ev){
        var rows = JSON.parse(ev.data);
        rows.forEach(function(r){
          var cell = el.querySelector('[data-metric="' + CSS.escape(r.key) + '"]');
          if (cell) cell.textContent = r.text;
        });
      });
    });
  }
  function init(){ charts(); live(); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
  document.addEventListener('htmx:afterSwap', init);
})();
`;
