/**
 * The dashboard's only script, served as a file under the page's CSP nonce. Every page works
 * without it; it adds charts (uPlot, served beside it), live refresh of the `[data-live]`
 * regions without a reload, copy buttons, confirmations, and filters that apply on change.
 * It never builds HTML from strings: refreshed regions are parsed from the server's own page.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var PALETTE = ['#2f5bea', '#16a34a', '#dc2626', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#64748b'];
  var charts = new Map();

  function compact(value) {
    if (value === null || value === undefined) return '–';
    var abs = Math.abs(value);
    if (abs >= 1e9) return (value / 1e9).toFixed(1) + 'G';
    if (abs >= 1e6) return (value / 1e6).toFixed(1) + 'M';
    if (abs >= 1e4) return (value / 1e3).toFixed(0) + 'k';
    if (abs >= 1e3) return (value / 1e3).toFixed(1) + 'k';
    return String(Math.round(value * 10) / 10);
  }

  function chartOptions(spec, width) {
    var series = [{}];
    spec.series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      series.push({
        label: s.label,
        stroke: color,
        width: 2,
        fill: spec.series.length === 1 ? color + '1f' : undefined,
        points: { show: spec.gaps || spec.x.length < 3, size: 6 },
        value: function (u, v) { return v === null || v === undefined ? '–' : compact(v) + (spec.unit || ''); },
      });
    });
    return {
      width: width,
      height: 190,
      series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.15 : 1]; } } },
      axes: [
        { stroke: '#5d6877', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e2e5ea' } },
        { stroke: '#5d6877', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e2e5ea' }, size: 50,
          values: function (u, values) { return values.map(compact); } },
      ],
      cursor: { points: { size: 7 } },
      legend: { live: true },
    };
  }

  function chartData(spec) {
    return [spec.x].concat(spec.series.map(function (s) { return s.values; }));
  }

  function drawChart(el) {
    var spec = JSON.parse(el.getAttribute('data-chart'));
    var existing = charts.get(el);
    if (existing && existing.series === spec.series.length) {
      existing.plot.setData(chartData(spec));
      return;
    }
    if (existing) existing.plot.destroy();
    el.textContent = '';
    if (typeof window.uPlot !== 'function') return;
    var plot = new window.uPlot(chartOptions(spec, Math.max(200, el.clientWidth)), chartData(spec), el);
    charts.set(el, { plot: plot, series: spec.series.length });
  }

  function drawCharts() {
    charts.forEach(function (chart, el) {
      if (!el.isConnected) { chart.plot.destroy(); charts.delete(el); }
    });
    document.querySelectorAll('[data-chart]').forEach(drawChart);
  }

  var resizeTimer = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (chart, el) { chart.plot.setSize({ width: Math.max(200, el.clientWidth), height: 190 }); });
    }, 100);
  });

  // Copy buttons: <button data-copy="input-id">.
  document.addEventListener('click', function (event) {
    var button = event.target.closest && event.target.closest('button[data-copy]');
    if (!button) return;
    var input = document.getElementById(button.getAttribute('data-copy'));
    if (!input) return;
    var done = function () {
      button.textContent = 'Copied';
      setTimeout(function () { button.textContent = 'Copy'; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
    } else {
      input.select();
      done();
    }
  });

  // Confirmations: <form data-confirm="…">. Without this script the server asks on a page of its own.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute('data-confirm');
    if (!message) return;
    if (!window.confirm(message)) { event.preventDefault(); return; }
    var field = document.createElement('input');
    field.type = 'hidden';
    field.name = 'confirmed';
    field.value = 'yes';
    form.appendChild(field);
  });

  // Filters that apply as soon as they change: <form data-autosubmit>.
  document.addEventListener('change', function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute('data-autosubmit')) form.requestSubmit();
  });

  // Live refresh: the page again, in the background; each [data-live] region is swapped in place.
  var main = document.querySelector('main[data-refresh-ms]');
  var status = document.getElementById('live-status');
  var busy = false;
  var stopped = false;
  function say(text, stale) {
    if (!status) return;
    status.textContent = text;
    status.classList.toggle('stale', !!stale);
  }
  function refresh() {
    if (busy || stopped || document.hidden) return;
    busy = true;
    var url = main.getAttribute('data-refresh-url') || location.href;
    fetch(url, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) {
        if (response.redirected || response.status === 401) {
          stopped = true;
          say('Signed out: reload the page to sign in again', true);
          return null;
        }
        if (!response.ok) throw new Error('HTTP ' + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, 'text/html');
        fresh.querySelectorAll('[data-live][id]').forEach(function (next) {
          var current = document.getElementById(next.id);
          if (!current || current.contains(document.activeElement)) return;
          if (current.hasAttribute('data-chart') && next.hasAttribute('data-chart')) {
            current.setAttribute('data-chart', next.getAttribute('data-chart'));
          } else {
            current.replaceWith(document.importNode(next, true));
          }
        });
        drawCharts();
        say('Updated ' + new Date().toLocaleTimeString(), false);
      })
      .catch(function () { say('Could not refresh; retrying', true); })
      .finally(function () { busy = false; });
  }
  if (main) {
    var every = Number(main.getAttribute('data-refresh-ms')) || 5000;
    setInterval(refresh, every);
    document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });
    say('Live: refreshes every ' + Math.round(every / 1000) + ' s', false);
  }

  drawCharts();
})();
`;
