// The page's behaviour: show, filter and sort the rows it is given, and show the selected
// connection's detail. The ladder and the chart come drawn (SVG from iotscope); nothing is
// fetched from anywhere but the server the page came from (live) or the page itself (report).
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token');
  const api = (p) => p + (token ? '?token=' + encodeURIComponent(token) : '');
  const inline = (id) => {
    const el = $(id);
    return el ? JSON.parse(el.textContent) : null;
  };
  const report = inline('mode') === 'report';
  const PAGE = 100;
  let rows = new Map();
  let sortKey = 'id';
  let sortDir = report ? 1 : -1;
  let page = 0;
  let selected = null;

  function text(el, s) { el.textContent = s == null ? '' : String(s); return el; }
  function make(tag, cls, s) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (s != null) text(el, s);
    return el;
  }

  function titled(el, t) { el.title = t; return el; }

  function matches(r) {
    const code = $('f-code').value;
    const sev = $('f-sev').value;
    const client = $('f-client').value.trim().toLowerCase();
    const words = $('f-text').value.trim().toLowerCase();
    if (code && !r.codes.includes(code)) return false;
    if (sev === 'none' ? (r.severity !== '' || r.open) : (sev && r.severity !== sev)) return false;
    if (client && !r.client_id.toLowerCase().includes(client)) return false;
    if (words) {
      const all = [r.id, r.time, r.device, r.sni, r.client_id, r.cert_full, r.tls, r.outcome,
        r.code, r.title, r.source].concat(r.codes).join(' ').toLowerCase();
      if (!words.split(/\s+/).every((w) => all.includes(w))) return false;
    }
    return true;
  }

  function compare(a, b) {
    const x = a[sortKey], y = b[sortKey];
    const c = (typeof x === 'number' && typeof y === 'number') ? x - y
      : String(x).localeCompare(String(y), undefined, { numeric: true });
    return (c || a.id - b.id) * sortDir;
  }

  function codeOptions() {
    const sel = $('f-code');
    const have = new Set();
    for (const r of rows.values()) for (const c of r.codes) have.add(c);
    const keep = sel.value;
    const known = Array.from(sel.options).map((o) => o.value).filter((v) => v);
    if (known.length === have.size && known.every((c) => have.has(c))) return;
    sel.length = 1;
    for (const c of Array.from(have).sort()) sel.add(new Option(c, c));
    sel.value = keep;
  }

  function render() {
    codeOptions();
    const list = Array.from(rows.values()).filter(matches).sort(compare);
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    page = Math.min(page, pages - 1);
    const body = document.querySelector('#conns tbody');
    const frag = document.createDocumentFragment();
    for (const r of list.slice(page * PAGE, page * PAGE + PAGE)) {
      const tr = make('tr');
      tr.dataset.id = r.id;
      if (r.open) tr.classList.add('open');
      if (r.id === selected) tr.classList.add('selected');
      tr.append(make('td', 'c-id', r.id), make('td', 'c-time', r.time.replace('T', ' ').slice(0, 23)),
        make('td', 'c-device', r.device), titled(make('td', 'c-sni', r.sni), r.sni),
        make('td', 'c-client', r.client_id));
      const cert = make('td', 'c-cert', r.cert);
      cert.title = r.cert_full;
      const code = make('td', 'c-code' + (r.severity ? ' sev-' + r.severity : ''), r.code || (r.open ? '' : '—'));
      code.title = r.title;
      tr.append(cert, make('td', 'c-tls', r.tls), titled(make('td', 'c-outcome', r.outcome), r.outcome), code);
      tr.addEventListener('click', () => select(r.id));
      frag.append(tr);
    }
    body.replaceChildren(frag);
    text($('count'), list.length + ' of ' + rows.size + ' connection' + (rows.size === 1 ? '' : 's'));
    text($('page'), 'page ' + (page + 1) + ' of ' + pages);
    $('prev').disabled = page === 0;
    $('next').disabled = page >= pages - 1;
    for (const th of document.querySelectorAll('#conns th')) {
      th.classList.toggle('sorted', th.dataset.key === sortKey);
      th.classList.toggle('desc', th.dataset.key === sortKey && sortDir < 0);
    }
  }

  function select(id) {
    selected = id;
    render();
    const r = rows.get(id);
    if (r && r.open) {
      showMessage('#' + id + ' is still open: its diagram is drawn when it closes.');
      return;
    }
    if (report) {
      const d = inline('c-' + id);
      d.row = r;
      show(d);
      return;
    }
    fetch(api('/api/conn/' + id))
      .then((res) => res.ok ? res.json() : res.text().then((t) => { throw new Error(t); }))
      .then((d) => { if (selected === id) show(d); })
      .catch((e) => showMessage('#' + id + ': ' + e.message));
  }

  function showMessage(msg) {
    $('detail').hidden = false;
    text($('d-title'), msg);
    $('d-ladder').replaceChildren();
    $('d-findings').replaceChildren();
    text($('d-events'), '');
    text($('d-json'), '');
  }

  function show(d) {
    if (!d) return;
    const r = d.row;
    let parsed = null;
    try { parsed = JSON.parse(d.json); } catch (e) { /* shown as it is below */ }
    d.findings = d.findings || (parsed && parsed.findings) || [];
    $('detail').hidden = false;
    text($('d-title'), '#' + r.id + ' ' + r.device + (r.sni ? ' → ' + r.sni : '') +
      (r.client_id ? ' (client id ' + r.client_id + ')' : '') + ' — ' + r.outcome);
    // The diagram is SVG that iotscope drew, every text in it escaped.
    $('d-ladder').innerHTML = d.svg;
    const box = $('d-findings');
    box.replaceChildren();
    if (!d.findings.length) box.append(make('p', null, 'No finding.'));
    for (const f of d.findings) {
      const div = make('div', 'finding-box sev-' + f.severity);
      const h = make('h3', 'sev-' + f.severity, f.severity + ' ' + f.code + ' — ' + f.title);
      div.append(h, make('p', 'summary', f.summary));
      if (f.evidence.length) {
        const ul = make('ul', 'evidence');
        for (const e of f.evidence) ul.append(make('li', null, e.t.toFixed(6) + ' s ' + e.text));
        div.append(make('strong', null, 'Evidence'), ul);
      }
      if (f.candidates && f.candidates.length) {
        const ul = make('ul');
        for (const c of f.candidates) ul.append(make('li', null, c));
        div.append(make('strong', null, 'Possible causes'), ul);
      }
      if (f.next_steps.length) {
        const ol = make('ol', 'next-steps');
        for (const s of f.next_steps) ol.append(make('li', null, s));
        div.append(make('strong', null, 'Next steps'), ol);
      }
      const a = make('a', null, 'AWS guide: ' + f.section);
      a.href = f.guide;
      a.target = '_blank';
      div.append(a);
      box.append(div);
    }
    text($('d-events'), d.events.map((e) =>
      e.t.padStart(10) + ' ' + e.arrow + ' ' + (e.decrypted ? '*' : ' ') + e.text.replace(/\n/g, '\n' + ' '.repeat(14))).join('\n'));
    text($('d-json'), parsed ? JSON.stringify(parsed, null, 2) : d.json);
  }

  // Filters, sorting, pages.
  for (const id of ['f-code', 'f-sev']) $(id).addEventListener('change', () => { page = 0; render(); });
  // 'change' too: clearing a field from a script (or WebDriver) fires no 'input'.
  for (const id of ['f-client', 'f-text']) {
    for (const ev of ['input', 'change']) $(id).addEventListener(ev, () => { page = 0; render(); });
  }
  for (const th of document.querySelectorAll('#conns th')) {
    th.addEventListener('click', () => {
      if (sortKey === th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = 1; }
      render();
    });
  }
  $('prev').addEventListener('click', () => { page -= 1; render(); });
  $('next').addEventListener('click', () => { page += 1; render(); });

  if (report) {
    for (const r of inline('rows') || []) rows.set(r.id, r);
    $('chart').innerHTML = inline('chart-svg') || '';
    text($('status'), 'report · ' + rows.size + ' connection' + (rows.size === 1 ? '' : 's'));
    render();
    return;
  }

  // Live: every (re)connection of the event stream reloads the snapshot, and so does a
  // resync (this page fell behind); rows in between replace those with the same number.
  let due = null;
  function soon() {
    if (due) return;
    due = setTimeout(() => {
      due = null;
      render();
      fetch(api('/api/chart')).then((r) => r.text()).then((svg) => { $('chart').innerHTML = svg; });
    }, 250);
  }
  function load() {
    fetch(api('/api/snapshot')).then((r) => r.json()).then((list) => {
      rows = new Map(list.map((r) => [r.id, r]));
      soon();
    });
  }
  const events = new EventSource(api('/api/events'));
  events.addEventListener('open', () => { text($('status'), 'live'); load(); });
  events.addEventListener('error', () => text($('status'), 'reconnecting…'));
  events.addEventListener('resync', load);
  events.addEventListener('row', (ev) => {
    const r = JSON.parse(ev.data);
    const was = rows.get(r.id);
    rows.set(r.id, r);
    soon();
    if (r.id === selected && was && was.open && !r.open) select(r.id);
  });
  render();
})();
