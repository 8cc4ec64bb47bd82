/*
 * Tests of the report dashboard src/dashboard/dashboard.html with plain node (v20, no npm
 * packages):
 *   node t/widget/test_dashboard.js
 *
 * Static checks: one self-contained page (no external URL anywhere, no external asset), one
 * inline script that compiles, no HTML-string sinks (innerHTML, outerHTML,
 * insertAdjacentHTML, document.write, eval, new Function, string timers), no inline event
 * handlers, labels for every form control, ASCII, size.
 *
 * If Debian's chromium is installed (/usr/bin/chromium, or $CHROMIUM), the page is also
 * rendered headless against a local HTTP server (127.0.0.1, random port) that serves it
 * with the module's Content-Security-Policy, and the dumped DOM is checked: scores, tables,
 * a hostile comment shown as text, the query string passed through, empty data, HTTP and
 * JSON errors, the alerts view, survey targets (issue 15.2), the journey view (issue 15:
 * t/browser/journey-report.json, with a hostile touchpoint name; and without the journey
 * fields, as an older module has it), the trend by week and the period before, the comments
 * view, and filters that are not valid (issue 17: 5, 6, 8). Without chromium those tests are
 * skipped.
 *
 * The trend's arithmetic (ISO weeks, months, the unit chosen from the range, weeks and months
 * added up from the days' answers per score, the period before) is tested as plain functions
 * taken from the page, with exact numbers.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const zlib = require('node:zlib');
const { execFile } = require('node:child_process');

const FILE = path.join(__dirname, '..', '..', 'src', 'dashboard', 'dashboard.html');
const HTML = fs.readFileSync(FILE, 'utf8');
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
  "connect-src 'self'; img-src data:";
/* ~25 KB, then ~10 KB for the alerts view (issue 14), ~2 KB for targets (issue 15.2), ~5.4 KB for
 * the journey view (issue 15), ~17 KB for the trend by day, week or month with its comparison,
 * the comments view, charts drawn at their width and the filters' errors (issue 17: 5, 6, 8);
 * ~7 KB for segments (17.7: tables, the trend and touchpoints per value, preview); 2 KB of room */
const MAX_BYTES = 72 * 1024;

const scripts = [...HTML.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
const SRC = scripts.length ? scripts[0][2] : '';
const STYLE = [...HTML.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)].map((m) => m[1]).join('\n');
/* the markup without the script and style bodies */
const MARKUP = HTML.replace(/(<script\b[^>]*>)[\s\S]*?(<\/script>)/gi, '$1$2')
  .replace(/(<style\b[^>]*>)[\s\S]*?(<\/style>)/gi, '$1$2');
/* the script without comments and string literals, for the sink checks */
const CODE = SRC.replace(/\/\*[\s\S]*?\*\//g, ' ')
  .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''");

/* ---------- static checks ---------- */

test('size and encoding', () => {
  const bytes = Buffer.byteLength(HTML);
  const gz = zlib.gzipSync(HTML, { level: 9 }).length;
  console.log(`# dashboard.html: ${bytes} bytes, ${gz} bytes gzipped`);
  assert.ok(bytes <= MAX_BYTES, `${bytes} bytes > ${MAX_BYTES}`);
  assert.ok(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(HTML), 'the page is plain ASCII (entities and \\u escapes)');
  assert.match(HTML, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.match(HTML, /<meta charset="utf-8">/);
  assert.match(HTML, /<title>[^<]+<\/title>/);
});

test('exactly one inline script, and it compiles as plain script', () => {
  assert.equal(scripts.length, 1, 'one <script>');
  assert.doesNotMatch(scripts[0][1], /\bsrc\s*=/i, 'inline, no src');
  assert.doesNotThrow(() => new Function(SRC), 'the script compiles');
  assert.match(SRC, /^\s*\(function \(\) \{\s*'use strict';/, 'an IIFE in strict mode');
  /* ES2017: none of the later syntax a plain parse would accept */
  assert.doesNotMatch(CODE, /\?\.(?!\d)|\?\?|\bimport\s*\(|\bclass\s+\w+\s*\{[^}]*#\w/, 'no ES2020+ syntax');
});

test('no external URL, no external asset', () => {
  assert.doesNotMatch(HTML, /\bhttps?:/i, 'no http(s): anywhere, not even the SVG namespace');
  assert.doesNotMatch(HTML, /\b(?:src|href|action|xlink:href|poster|data)\s*=\s*["']?\s*(?:\/\/|[a-z][a-z0-9+.-]*:(?!,))/i,
    'no absolute or protocol-relative URL in an attribute (data:, only for the icon)');
  assert.doesNotMatch(MARKUP, /<(?:img|iframe|object|embed|audio|video|source|base)\b/i, 'no embedded asset');
  const links = [...MARKUP.matchAll(/<link\b[^>]*>/gi)].map((m) => m[0]);
  for (const l of links) assert.match(l, /rel="icon" href="data:,"/, `only the empty icon: ${l}`);
  assert.doesNotMatch(MARKUP, /<script\b[^>]*\bsrc/i);
  assert.doesNotMatch(STYLE, /@import|url\s*\(|@font-face/i, 'CSS loads nothing');
  assert.doesNotMatch(CODE, /["'`]\s*\/\//, 'no protocol-relative string in the script');
  /* the only requests: report.json (the filters', then the period before's), segments.json, comments.json and
   * alerts.json (GET), the alert actions (POST), all relative, in the same directory */
  const fetches = [...SRC.matchAll(/\bfetch\s*\(\s*([^,]*),/g)].map((m) => m[1].trim());
  assert.deepEqual(fetches, ["f.getAttribute('action')", 'url']);
  const gets = [...SRC.matchAll(/\bgetJSON\s*\(\s*([^,)]*)/g)].map((m) => m[1].trim()).filter((x) => x !== 'url');
  assert.deepEqual(gets, ["'report.json?' + q.toString(", "'segments.json?' + p.toString(", "'comments.json?' + p.toString(", "'alerts.json'",
    "'report.json' + qs", "'alerts.json'"]);
  assert.match(SRC, /action: 'alerts\/' \+ id \+ '\/' \+ op/, 'POST to alerts/ID/ack|resolve, relative');
  assert.match(SRC, /\/\^\[A-Za-z0-9_-\]\{22\}\$\/\.test\(id\)/, 'an alert id is checked before it goes in a URL');
  assert.doesNotMatch(CODE, /XMLHttpRequest|WebSocket|EventSource|sendBeacon|importScripts|new\s+Worker/);
});

test('no HTML-string sinks, no eval, no inline handlers', () => {
  for (const re of [/innerHTML/, /outerHTML/, /insertAdjacentHTML/, /document\s*\.\s*write/, /\beval\b/,
    /\bnew\s+Function\b/, /\bFunction\s*\(/, /createContextualFragment/, /DOMParser/, /srcdoc/,
    /setTimeout\s*\(\s*['"`]/, /setInterval/, /\.on[a-z]+\s*=/, /javascript:/i]) {
    assert.doesNotMatch(SRC, re, `script uses ${re}`);
  }
  assert.doesNotMatch(MARKUP, /\son[a-z]+\s*=/i, 'no inline event handler attribute');
  assert.doesNotMatch(MARKUP, /\sstyle\s*=/i, 'no style attributes');
  /* attribute names always literals: setAttribute only via attrs(), whose keys are code */
  const calls = [...CODE.matchAll(/setAttribute\s*\(([^,]*),/g)].map((m) => m[1].trim());
  assert.deepEqual(calls, ["k === '' ? '' : k"], 'setAttribute only in the attrs() helper');
  assert.match(SRC, /e\.textContent = String\(a\[k\]\)/);
  assert.match(SRC, /document\.createTextNode\(String\(x\)\)/);
});

test('accessible markup', () => {
  assert.match(MARKUP, /<h1>[^<]+<\/h1>/);
  const ids = [...MARKUP.matchAll(/<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(ids.length >= 4, 'survey, touchpoint, from, to');
  for (const id of ids) assert.match(MARKUP, new RegExp(`<label for="${id}">[^<]+</label>`), `label for #${id}`);
  for (const n of ['survey', 'touchpoint', 'from', 'to']) assert.match(MARKUP, new RegExp(`name="${n}"`));
  assert.match(MARKUP, /role="status"/);
  assert.match(STYLE, /@media \(prefers-color-scheme:dark\)/);
  assert.match(SRC, /sv\('title'/, 'SVG charts get a <title>');
  assert.match(SRC, /sv\('desc'/, 'and a text description');
  assert.match(SRC, /row\(head, numeric, 'col'\)/, 'table headers (th scope=col)');
  assert.match(SRC, /'rowgroup'/, 'stage groups as row groups');
});

/* ---------- rendered in headless chromium ---------- */

const CHROMIUM = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser']
  .find((p) => p && fs.existsSync(p));
const skip = CHROMIUM ? false : 'chromium is not installed';

const XSS = '<img src=x onerror=alert(1)>';
const REPORT = {
  generated_at: '2026-11-24T12:00:00Z',
  surveys: [
    { name: 'nps_after_purchase', type: 'nps', offered: 10, displayed: 8, answered: 5, dismissed: 1,
      score: 20.0, promoters: 2, passives: 2, detractors: 1, distribution: [0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1],
      by_touchpoint: [{ touchpoint: 'purchase', answered: 5, score: 20.0 }],
      by_day: [{ date: '2026-11-20', answered: 2, score: 0.0 }, { date: '2026-11-24', answered: 3, score: 33.3 }],
      comments: [
        { at: '2026-11-24T11:00:00Z', score: 3, touchpoint: 'purchase', comment: 'Too slow' },
        { at: '2026-11-24T11:30:00Z', score: 9, touchpoint: '<b>tp</b>', comment: XSS },
      ] },
    { name: 'csat_support', type: 'csat', offered: 4, displayed: 4, answered: 4, dismissed: 0, score: 75.0,
      distribution: [0, 1, 0, 2, 1], by_touchpoint: [{ touchpoint: 'support', answered: 4, score: 75.0 }],
      by_day: [{ date: '2026-11-24', answered: 4, score: 75.0 }], comments: [] },
    { name: 'ces_checkout', type: 'ces', offered: 3, displayed: 2, answered: 0, dismissed: 2, score: 0.0,
      distribution: [0, 0, 0, 0, 0, 0, 0], by_touchpoint: [], by_day: [], comments: [] },
  ],
  touchpoints: [
    { name: 'purchase', stage: 'purchase', visits: 12, visitors: 9 },
    { name: 'browse', stage: 'consideration', visits: 40, visitors: 20 },
    { name: 'support', stage: '', visits: 6, visitors: 5 },
    { name: '__proto__', stage: 'constructor', visits: 1, visitors: 1 },
  ],
};

/* a server for one scenario: the dashboard at /cx-admin/, report.json next to it (a function of
 * the query gives each query its own), comments.json (no comments, unless given) */
const NO_COMMENTS = JSON.stringify({ comments: [], next: null, examined: 0, stopped_early: false });
let SEGMENTS = null;        /* segments.json for the scenarios that set it: a function of the query */
function serve(reportBody, status = 200, alerts = null, comments = null) {
  const seen = [];
  const srv = http.createServer((req, res) => {
    seen.push(req.url);
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname === '/cx-admin/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP,
        'X-Content-Type-Options': 'nosniff' });
      res.end(HTML);
    } else if (u.pathname === '/cx-admin/report.json') {
      const [st, body] = typeof reportBody === 'function' ? reportBody(u.searchParams) : [status, reportBody];
      res.writeHead(st, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(body);
    } else if (u.pathname === '/cx-admin/comments.json') {
      const [st, body] = comments ? comments(u.searchParams) : [200, NO_COMMENTS];
      res.writeHead(st, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(body);
    } else if (u.pathname === '/cx-admin/segments.json' && SEGMENTS) {
      const [st, body] = SEGMENTS(u.searchParams);
      res.writeHead(st, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(body);
    } else if (u.pathname === '/cx-admin/alerts.json' && alerts) {
      res.writeHead(alerts.status || 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(alerts.body);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, seen, port: srv.address().port })));
}

function dump(url) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cx-dash-'));
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-dev-shm-usage',
      `--user-data-dir=${dir}`, '--virtual-time-budget=3000', '--dump-dom', url],
    { timeout: 60000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (err) reject(new Error(`chromium: ${err.message}\n${stderr}`)); else resolve(stdout);
    });
  });
}

/* the text of the DOM dump, tags removed and the common entities decoded */
function text(dom) {
  return dom.replace(/<script\b[\s\S]*?<\/script>|<style\b[\s\S]*?<\/style>/gi, ' ').replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

async function scenario(body, status, query, alerts, comments) {
  const { srv, seen, port } = await serve(body, status, alerts, comments);
  try {
    const dom = await dump(`http://127.0.0.1:${port}/cx-admin/${query || ''}`);
    return { dom, body: dom.replace(/^[\s\S]*?<body>/, '').replace(/<script\b[\s\S]*?<\/script>/gi, ''), seen };
  } finally {
    srv.close();
  }
}

test('renders a report in chromium, under the CSP', { skip, timeout: 120000 }, async () => {
  const q = '?survey=nps_after_purchase&from=2026-11-01&to=2026-11-30';
  const { dom, body, seen } = await scenario(JSON.stringify(REPORT), 200, q);
  const t = text(body);
  assert.ok(seen.includes('/cx-admin/report.json' + q), `report.json fetched with the filters: ${seen.join(' ')}`);
  assert.match(t, /Generated 2026-11-24 12:00 UTC/);
  assert.match(t, /nps_after_purchase NPS \+20 NPS from 5 answers/, 'the NPS score, big, with its count');
  assert.match(t, /Response rate 50% of offered \(5 \/ 10\)/);
  assert.match(t, /Of displayed 63% \(5 \/ 8\)/);
  assert.match(t, /Promoters 2 \(40%\)/);
  assert.match(t, /csat_support CSAT 75%/);
  assert.match(t, /ces_checkout CES \u2014 CES: no answers yet/);
  assert.match(t, /No answers yet \(offered 3 times\)\./);
  assert.match(t, /Trend by day/);
  assert.match(t, /2026-11-24 3 \+33/, 'the trend table');
  assert.match(t, /Score distribution/);
  assert.match(t, /purchase purchase 5 100% \+20/, 'by touchpoint: name, stage, answered, share, score');
  assert.match(t, /By journey stage Answers and score by journey stage Stage Answered Score purchase 5 \+20/);
  assert.match(t, /Too slow/);
  /* the hostile comment and touchpoint are text, not markup */
  assert.ok(t.includes(XSS), 'the comment is shown as text');
  assert.ok(body.includes('&lt;img src=x onerror=alert(1)&gt;'), 'escaped in the DOM');
  assert.ok(t.includes('<b>tp</b>'));
  assert.doesNotMatch(body, /<img\b/i, 'no img element was created');
  assert.doesNotMatch(body, /<b>tp<\/b>/);
  /* touchpoints grouped by stage, in journey order */
  assert.match(t, /Stage: consideration \(1\) 40 20 68% browse 40 20 68%/);
  assert.match(t, /Stage: purchase \(1\) 12 9 20% purchase 12 9 20%/);
  assert.match(t, /Stage: constructor \(1\) 1 1 2% __proto__ 1 1 2%/, 'odd names are plain keys');
  assert.match(t, /Stage: \(no stage\) \(1\) 6 5 10% support 6 5 10%/);
  assert.ok(t.indexOf('Stage: consideration') < t.indexOf('Stage: purchase'));
  /* SVG charts with a title and a description */
  assert.ok((body.match(/<svg class="ch"[^>]*role="img"/g) || []).length >= 4, 'trend and distribution charts');
  assert.match(body, /<title id="c\d+t">Trend by day: NPS and answers<\/title>/);
  /* the range is the filters': every day of it, by day (30 days: chosen automatically) */
  assert.match(body, /<desc id="c\d+d">30 days from 2026-11-01 to 2026-11-30, 2 with answers/);
  /* the form is filled from the query string and the survey list from the data */
  assert.match(body, /<option value="nps_after_purchase">nps_after_purchase<\/option>/);
  assert.match(body, /<option value="ces_checkout">/);
  assert.match(t, /Filtered by survey = nps_after_purchase, from = 2026-11-01, to = 2026-11-30\. Clear filters/);
  assert.match(body, /href="report\.json\?survey=nps_after_purchase&amp;from=2026-11-01&amp;to=2026-11-30"/);
  assert.doesNotMatch(body, /aria-busy/);
  assert.ok(dom.length > 0);
});

/* a picture for people: saved as a test artifact, checked to be a PNG */
test('screenshot of the dashboard (t/artifacts/dashboard.png)', { skip, timeout: 120000 }, async () => {
  const { srv, port } = await serve(JSON.stringify(REPORT), 200);
  const out = path.join(__dirname, '..', 'artifacts');
  fs.mkdirSync(out, { recursive: true });
  const file = path.join(out, 'dashboard.png');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cx-dash-'));
  try {
    fs.rmSync(file, { force: true });
    await new Promise((resolve, reject) => {
      execFile(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-dev-shm-usage',
        `--user-data-dir=${dir}`, '--virtual-time-budget=3000', '--window-size=1280,1600',
        `--screenshot=${file}`, `http://127.0.0.1:${port}/cx-admin/`],
      { timeout: 60000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()));
    });
    const png = fs.readFileSync(file);
    assert.ok(png.length > 10000, `a real picture (${png.length} bytes)`);
    assert.deepStrictEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'a PNG');
  } finally {
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('empty report: "no answers yet"', { skip, timeout: 120000 }, async () => {
  const { body } = await scenario(JSON.stringify({ generated_at: '2026-11-24T12:00:00Z', surveys: [], touchpoints: [] }), 200);
  const t = text(body);
  assert.match(t, /No surveys and no answers yet\./);
  assert.match(t, /No touchpoint visits recorded yet\./);
});

test('fetch errors are shown clearly', { skip, timeout: 180000 }, async () => {
  let t = text((await scenario('{"error":"x"}', 403)).body);
  assert.match(t, /Could not load the report: the server answered HTTP 403 Forbidden \(access to the report is restricted/);
  t = text((await scenario('<html>not json', 200)).body);
  assert.match(t, /Could not load the report: report\.json is not valid JSON\./);
  t = text((await scenario('[1,2]', 200)).body);
  assert.match(t, /report\.json does not hold a report object\./);
  /* garbage values are coerced, never rendered as markup or crash the page */
  t = text((await scenario(JSON.stringify({ surveys: [{ name: { a: 1 }, type: 'nps', answered: '5', score: 'x',
    comments: 'no', by_day: [null, { date: '<x>' }] }], touchpoints: [null, 3] }), 200)).body);
  assert.match(t, /Generation time unknown/);
  assert.match(t, /\(unnamed survey\) NPS \u2014/);
  assert.doesNotMatch(t, /Could not load/);
});

/* ---------- the alerts view (issue 14) ---------- */

const ID = (c) => c.repeat(22);
const ALERTS = { alerts: [
  { id: ID('A'), alert: 'detractors', status: 'open', state: 'open', created_at: '2026-11-24T11:30:00Z', levels: 1, sent: 1,
    failed: 0, response_id: '00aa', survey: 'nps_after_purchase', touchpoint: '<b>tp</b>', type: 'nps', score: 2,
    band: 'detractor', comment: XSS },
  { id: ID('B'), alert: 'escalating', status: 'escalated', state: 'open', created_at: '2026-11-24T11:00:00Z', levels: 2,
    sent: 3, failed: 0, response_id: '00bb', survey: 'csat_support', touchpoint: 'support', type: 'csat', score: 1,
    band: 'detractor', comment: '' },
  { id: ID('C'), alert: 'acked', status: 'acknowledged', state: 'acknowledged', created_at: '2026-11-23T10:00:00Z',
    acknowledged_at: '2026-11-23T10:05:00Z', levels: 2, sent: 1, failed: 0, response_id: '00cc', survey: 's', touchpoint: 't',
    type: 'nps', score: 5, band: 'detractor', comment: 'meh' },
  { id: ID('D'), alert: 'refused', status: 'failed', state: 'open', created_at: '2026-11-22T09:00:00Z', levels: 1, sent: 0,
    failed: 1, response_id: '00dd', survey: 's', touchpoint: 't', type: 'nps', score: 0, band: 'detractor', comment: '' },
  { id: ID('E'), alert: 'done', status: 'resolved', state: 'resolved', created_at: '2026-11-21T08:00:00Z',
    acknowledged_at: '2026-11-21T08:10:00Z', resolved_at: '2026-11-21T09:00:00Z', levels: 1, sent: 1, failed: 0,
    response_id: '00ee', survey: 's', touchpoint: 't', type: 'nps', score: 6, band: 'detractor', comment: 'fixed' },
  /* a hostile id never goes into a URL: shown, without buttons */
  { id: '../../x/ack?', alert: '<script>alert(2)</script>', status: 'open', state: 'open', created_at: 'not a date',
    levels: 'x', sent: {}, survey: 7 },
  null, 'junk',
] };
const WITH_COUNTS = { ...REPORT, alerts: { open: 2, acknowledged: 1, escalated: 1, failed: 1, resolved: 1 } };

/* the <li> of the alert whose id is ID, as DOM text */
function item(body, id) {
  const m = body.match(new RegExp(`<li tabindex="-1" data-id="${id}">[\\s\\S]*?</li>`));
  return m ? m[0] : '';
}

test('alerts: listed with their statuses, responses and action buttons, as text', { skip, timeout: 120000 }, async () => {
  const { body, seen } = await scenario(JSON.stringify(WITH_COUNTS), 200, '', { body: JSON.stringify(ALERTS) });
  const t = text(body);
  assert.ok(seen.includes('/cx-admin/alerts.json'), 'alerts.json fetched, without the filters');
  assert.match(body, /<section id="alerts" class="card" aria-labelledby="ah">/, 'the section is shown (not hidden)');
  assert.match(body, /<a id="acount" href="#alerts" class="hot">3 open alerts \u00b7 1 failed<\/a>/,
    'the count near the top: open + escalated from the list (2 + 1), and the failed');
  /* the filters, with counts; "needs action" (state open) first and chosen */
  assert.match(t, /Needs action \(4\) Open \(2\) Escalated \(1\) Acknowledged \(1\) Failed \(1\) Resolved \(1\) All \(6\)/);
  assert.match(body, /<button type="button" aria-pressed="true">Needs action \(4\)<\/button>/);
  assert.match(body, /<div class="tabs" role="group" aria-label="Show alerts by status">/);
  /* needs action: open, escalated, failed; not the acknowledged nor the resolved one */
  assert.ok(item(body, ID('A')) && item(body, ID('B')) && item(body, ID('D')));
  assert.equal(item(body, ID('C')), '', 'acknowledged: not in "needs action"');
  assert.equal(item(body, ID('E')), '', 'resolved: not in "needs action"');
  /* an item: status, name, when, the response, the comment, the delivery */
  const a = item(body, ID('A')), ta = text(a);
  assert.match(ta, /Open detractors Created 2026-11-24 11:30 UTC Response: nps_after_purchase at <b>tp<\/b> \u00b7 score 2 out of 10 \(detractor\)/);
  assert.match(a, /<span class="sb s-open">Open<\/span>/);
  assert.match(a, /<time datetime="2026-11-24T11:30:00Z">/);
  assert.match(ta, /Delivery: notification sent\./);
  /* the buttons: forms that POST to the relative alerts/ID/ack|resolve */
  assert.match(a, new RegExp(`<form method="post" action="alerts/${ID('A')}/ack"><button type="submit" aria-describedby="al0">Acknowledge</button></form>`));
  assert.match(a, new RegExp(`<form method="post" action="alerts/${ID('A')}/resolve"><button type="submit" class="sec" aria-describedby="al0">Resolve</button></form>`));
  assert.match(a, /<h3 id="al0">/, 'the buttons are described by the alert\'s heading');
  assert.match(text(item(body, ID('B'))), /Escalated escalating .* Delivery: notification sent, escalation 1 sent\./);
  const d = item(body, ID('D'));
  assert.match(text(d), /Failed refused .* Delivery: notification failed\./);
  assert.match(d, /action="alerts\/D{22}\/ack"/, 'a failed alert can be acknowledged');
  /* the hostile comment, touchpoint and name are text */
  assert.ok(ta.includes(XSS), 'the comment is shown as text');
  assert.ok(a.includes('&lt;img src=x onerror=alert(1)&gt;'), 'escaped in the DOM');
  assert.ok(t.includes('<script>alert(2)</script>'), 'a hostile rule name as text');
  assert.doesNotMatch(body, /<img\b/i, 'no img element was created');
  assert.doesNotMatch(body.replace(/<script\b[\s\S]*?<\/script>/gi, ''), /<script>alert/);
  assert.doesNotMatch(body, /<b>tp<\/b>/);
  /* the hostile id: listed, no form, no URL built of it */
  assert.match(t, /Open <script>alert\(2\)<\/script> Created not a date Response: 7/);
  assert.doesNotMatch(body, /action="[^"]*\.\./);
  assert.equal((body.match(/<form method="post"/g) || []).length, 6, 'ack + resolve for A, B, D; none for the bad id');
  /* no POST was made by rendering */
  assert.ok(seen.every((u) => !/\/(ack|resolve)$/.test(u)), seen.join(' '));
});

test('alerts: all resolved or acknowledged: "All" is shown, with the right buttons', { skip, timeout: 120000 }, async () => {
  const list = { alerts: ALERTS.alerts.filter((a) => a && (a.state === 'resolved' || a.state === 'acknowledged')) };
  const { body } = await scenario(JSON.stringify(REPORT), 200, '', { body: JSON.stringify(list) });
  const t = text(body);
  assert.match(body, /<a id="acount" href="#alerts" class="">No open alerts<\/a>/);
  assert.match(body, /<button type="button" aria-pressed="true">All \(2\)<\/button>/);
  const c = item(body, ID('C')), e = item(body, ID('E'));
  assert.match(text(c), /Acknowledged acked Created 2026-11-23 10:00 UTC \u00b7 acknowledged 2026-11-23 10:05 UTC/);
  assert.doesNotMatch(c, /\/ack"/, 'acknowledged: no Acknowledge button');
  assert.match(c, /action="alerts\/C{22}\/resolve"/, 'but Resolve');
  assert.match(text(e), /Resolved done Created 2026-11-21 08:00 UTC \u00b7 acknowledged 2026-11-21 08:10 UTC \u00b7 resolved 2026-11-21 09:00 UTC/);
  assert.doesNotMatch(e, /<form/, 'resolved: no button');
  assert.match(t, /fixed/);
});

test('alerts: none at all (no cx_alert rule): no alerts section, no count', { skip, timeout: 120000 }, async () => {
  const zero = { ...REPORT, alerts: { open: 0, acknowledged: 0, escalated: 0, failed: 0, resolved: 0 } };
  for (const alerts of [{ body: '{"alerts":[]}' }, null, { body: '{"alerts":[]}', status: 503 }]) {
    const { body } = await scenario(JSON.stringify(zero), 200, '', alerts);
    assert.match(body, /<section id="alerts" class="card" aria-labelledby="ah" hidden=""><\/section>/, 'hidden and empty');
    assert.match(body, /<a id="acount" href="#alerts" hidden=""><\/a>/);
    assert.doesNotMatch(text(body), /Alerts|open alert|Needs action|Acknowledge|Resolve/);
    assert.match(text(body), /nps_after_purchase/, 'the report is there');
  }
});

test('alerts: alerts.json fails while report.json counts some: the error is said', { skip, timeout: 120000 }, async () => {
  const { body } = await scenario(JSON.stringify(WITH_COUNTS), 200, '', { body: '{"error":"x"}', status: 503 });
  const t = text(body);
  assert.match(t, /Alerts .*Could not load the alerts: the server answered HTTP 503 Service Unavailable\./);
  assert.match(body, /<a id="acount" href="#alerts" class="hot">3 open alerts \u00b7 1 failed<\/a>/, 'the count from report.json');
  assert.match(t, /nps_after_purchase NPS \+20/, 'the report is unharmed');
});

/* ---------- targets (issue 15.2): "target N;" in cx_survey ---------- */

/* targets on NPS, CSAT and CES surveys; rows above, equal to and below them; a survey without
 * one; hostile targets (not numbers) and a hostile touchpoint name */
const TARGETS = {
  generated_at: '2026-11-24T12:00:00Z',
  surveys: [
    { name: 'nps_t', type: 'nps', offered: 20, displayed: 20, answered: 9, dismissed: 0, score: 20.0, target: 30,
      promoters: 4, passives: 3, detractors: 2, distribution: [0, 0, 0, 1, 0, 1, 0, 2, 1, 2, 2],
      by_touchpoint: [
        { touchpoint: 'tp_above', answered: 3, score: 50.0 },
        /* +29.6 is shown +30: equal to the target as shown, so not marked */
        { touchpoint: 'tp_equal', answered: 2, score: 29.6 },
        { touchpoint: XSS, answered: 2, score: -20.0 },
        { touchpoint: 'tp_none', answered: 0, score: 0.0 },
        { touchpoint: 'tp_low2', answered: 2, score: 25.0 },
      ],
      by_day: [{ date: '2026-11-23', answered: 4, score: 0.0 }, { date: '2026-11-24', answered: 5, score: 40.0 }], comments: [] },
    { name: 'csat_t', type: 'csat', offered: 6, displayed: 6, answered: 6, dismissed: 0, score: 80.0, target: 80,
      distribution: [0, 1, 0, 2, 3], by_touchpoint: [
        { touchpoint: 'support', answered: 4, score: 75.0 },
        { touchpoint: 'chat', answered: 2, score: 90.0 },
      ], by_day: [{ date: '2026-11-24', answered: 6, score: 80.0 }], comments: [] },
    { name: 'ces_t', type: 'ces', offered: 7, displayed: 7, answered: 7, dismissed: 0, score: 5.2, target: 5.5,
      distribution: [0, 1, 0, 0, 1, 3, 2], by_touchpoint: [
        { touchpoint: 'checkout', answered: 4, score: 6.0 },
        { touchpoint: 'cart', answered: 2, score: 5.5 },
        { touchpoint: 'pay', answered: 1, score: 4.1 },
      ], by_day: [{ date: '2026-11-24', answered: 7, score: 5.2 }], comments: [] },
    { name: 'csat_plain', type: 'csat', offered: 4, displayed: 4, answered: 4, dismissed: 0, score: 25.0,
      distribution: [2, 1, 0, 1, 0], by_touchpoint: [{ touchpoint: 'support', answered: 4, score: 25.0 }],
      by_day: [{ date: '2026-11-24', answered: 4, score: 25.0 }], comments: [] },
    { name: 'nps_bad_target', type: 'nps', offered: 2, displayed: 2, answered: 2, dismissed: 0, score: -50.0,
      target: '<b>99</b>', distribution: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
      by_touchpoint: [{ touchpoint: 'support', answered: 2, score: -50.0 }], by_day: [], comments: [] },
    { name: 'ces_obj_target', type: 'ces', offered: 1, displayed: 1, answered: 1, dismissed: 0, score: 2.0,
      target: { valueOf: 7 }, distribution: [0, 1, 0, 0, 0, 0, 0],
      by_touchpoint: [{ touchpoint: 'support', answered: 1, score: 2.0 }], by_day: [], comments: [] },
    { name: 'nps_unanswered', type: 'nps', offered: 3, displayed: 1, answered: 0, dismissed: 1, score: 0.0, target: -10,
      distribution: [], by_touchpoint: [], by_day: [], comments: [] },
  ],
  touchpoints: [
    { name: 'tp_above', stage: 'purchase', visits: 5, visitors: 5 },
    { name: 'tp_equal', stage: 'loyalty', visits: 5, visitors: 5 },
    { name: XSS, stage: 'usage', visits: 5, visitors: 5 },
    { name: 'tp_low2', stage: 'usage', visits: 5, visitors: 5 },
    { name: 'support', stage: 'usage', visits: 5, visitors: 5 },
    { name: 'chat', stage: 'usage', visits: 5, visitors: 5 },
    { name: 'checkout', stage: 'purchase', visits: 5, visitors: 5 },
    { name: 'cart', stage: 'consideration', visits: 5, visitors: 5 },
    { name: 'pay', stage: 'advocacy', visits: 5, visitors: 5 },
  ],
};
const MARK = '<span class="bt"><span aria-hidden="true">\u25bc </span>below target</span>';

/* the card of one survey, and the rows of one of its tables as { lo, text } */
function cardOf(body, name) {
  const c = body.split('<section ').find((x) => x.includes(`>${name}<span class="badge">`));
  assert.ok(c, `the card of ${name}`);
  return c;
}
function rowsOf(c, caption) {
  const tbl = c.split('<table>').find((x) => x.startsWith(`<caption class="sr">${caption}</caption>`));
  assert.ok(tbl, `the table "${caption}"`);
  const [head, tbody] = tbl.replace(/^<caption[^>]*>[^<]*<\/caption>/, '').split('</thead>');
  return { head: text(head).trim(), rows: [...tbody.matchAll(/<tr([^>]*)>([\s\S]*?)<\/tr>/g)]
    .map((m) => ({ lo: m[1] === ' class="lo"', marked: m[2].includes(MARK), text: text(m[2]).trim() })) };
}

test('targets: shown beside the score, per touchpoint and per stage; below is marked with words', { skip, timeout: 120000 }, async () => {
  const { body } = await scenario(JSON.stringify(TARGETS), 200);
  const t = text(body);
  assert.doesNotMatch(t, /Could not load/);

  /* NPS: +20 against +30, below */
  let c = cardOf(body, 'nps_t');
  assert.match(text(c), /nps_t NPS \+20 NPS from 9 answers Target \+30 \u25bc below target Net Promoter/);
  assert.ok(c.includes(`<p class="tg">Target +30${MARK}</p>`), 'the mark is text; its arrow is hidden from screen readers');
  let r = rowsOf(c, 'Answers and score by touchpoint');
  assert.equal(r.head, 'Touchpoint Stage Answered Share Score (target +30)');
  assert.deepEqual(r.rows, [
    { lo: false, marked: false, text: 'tp_above purchase 3 33% +50' },
    { lo: false, marked: false, text: 'tp_equal loyalty 2 22% +30' },
    { lo: true, marked: true, text: `${XSS} usage 2 22% \u2212${20} \u25bc below target` },
    { lo: true, marked: true, text: 'tp_low2 usage 2 22% +25 \u25bc below target' },
    { lo: false, marked: false, text: 'tp_none \u2014 0 0% \u2014' },
  ], 'above and equal: not marked; below: marked; no answers: not marked');
  r = rowsOf(c, 'Answers and score by journey stage');
  assert.equal(r.head, 'Stage Answered Score (target +30)');
  assert.deepEqual(r.rows, [
    { lo: false, marked: false, text: 'purchase 3 +50' },
    { lo: true, marked: true, text: 'usage 4 +3 \u25bc below target' },
    { lo: false, marked: false, text: 'loyalty 2 +30' },
  ]);
  /* the trend chart draws it, and says it */
  assert.match(c, /<line [^>]*class="tl"><\/line><text [^>]*>target \+30<\/text>/);
  assert.match(c, /<desc id="c\d+d">[^<]*; target \+30\. The data table follows the chart\.<\/desc>/);
  assert.match(text(c), /Dashed line: the target\./);

  /* CSAT: 80% against 80%: equal, not marked; a touchpoint below is */
  c = cardOf(body, 'csat_t');
  assert.ok(c.includes('<p class="tg">Target 80%</p>'), 'equal: the target, no mark');
  r = rowsOf(c, 'Answers and score by touchpoint');
  assert.equal(r.head, 'Touchpoint Stage Answered Share Score (target 80%)');
  assert.deepEqual(r.rows.map((x) => [x.lo, x.marked, x.text]), [
    [true, true, 'support usage 4 67% 75% \u25bc below target'],
    [false, false, 'chat usage 2 33% 90%'],
  ]);
  assert.deepEqual(rowsOf(c, 'Answers and score by journey stage').rows.map((x) => x.text), ['usage 6 80%'],
    'the stage is at the target: not marked');

  /* CES: higher is easier, so better; one decimal */
  c = cardOf(body, 'ces_t');
  assert.match(text(c), /ces_t CES 5\.2 CES from 7 answers Target 5\.5 \u25bc below target/);
  r = rowsOf(c, 'Answers and score by touchpoint');
  assert.equal(r.head, 'Touchpoint Stage Answered Share Score (target 5.5)');
  assert.deepEqual(r.rows.map((x) => [x.lo, x.marked, x.text]), [
    [false, false, 'checkout purchase 4 57% 6.0'],
    [false, false, 'cart consideration 2 29% 5.5'],
    [true, true, 'pay advocacy 1 14% 4.1 \u25bc below target'],
  ]);
  assert.deepEqual(rowsOf(c, 'Answers and score by journey stage').rows.map((x) => [x.lo, x.text]),
    [[false, 'consideration 2 5.5'], [false, 'purchase 4 6.0'], [true, 'advocacy 1 4.1 \u25bc below target']]);
  assert.match(c, /<text [^>]*>target 5\.5<\/text>/);

  /* no answers: the target, nothing marked */
  c = cardOf(body, 'nps_unanswered');
  assert.match(text(c), /nps_unanswered NPS \u2014 NPS: no answers yet Target \u221210 /);
  assert.ok(!c.includes('class="bt"'));

  /* no target, or one that is not a number: nothing new, and no markup from it */
  for (const name of ['csat_plain', 'nps_bad_target', 'ces_obj_target']) {
    c = cardOf(body, name);
    assert.doesNotMatch(text(c), /\btarget\b/i, `${name}: no target, no mark`);
    assert.ok(!c.includes('class="tg"') && !c.includes('class="bt"') && !c.includes('class="lo"') && !c.includes('class="tl"'), name);
    assert.equal(rowsOf(c, 'Answers and score by touchpoint').head, 'Touchpoint Stage Answered Share Score');
  }
  assert.match(text(cardOf(body, 'csat_plain')), /csat_plain CSAT 25% CSAT from 4 answers Customer satisfaction/);
  assert.doesNotMatch(body, /<b>99<\/b>|<img\b/i, 'hostile values are never markup');
  assert.ok(body.includes('&lt;img src=x onerror=alert(1)&gt;'), 'a hostile touchpoint on a marked row is text');
});

test('fleet: a report with "nodes" offers them in the filter, with their answers; without, no node filter', { skip, timeout: 120000 }, async () => {
  const fleet = Object.assign({}, REPORT, { nodes: [{ node: 'web-1', responses: 9, answered: 5 },
    { node: 'web-<2>', responses: 1, answered: 1 }] });
  let { body, seen } = await scenario(JSON.stringify(fleet), 200, '?node=web-1');
  assert.ok(seen.includes('/cx-admin/report.json?node=web-1'), 'report.json fetched with node=');
  assert.match(body, /<div id="f-node-w"><label for="f-node">Node<\/label><select id="f-node" name="node">/, 'the node filter shown');
  assert.match(body, /<option value="web-1">web-1 \(5 answers\)<\/option>/);
  assert.match(body, /<option value="web-&lt;2&gt;">web-&lt;2&gt; \(1 answer\)<\/option>/, 'a node name is text');
  assert.match(text(body), /Filtered by node = web-1\. Clear filters/);
  assert.match(body, /href="responses\.csv\?node=web-1"/, 'the exports keep node=');
  ({ body } = await scenario(JSON.stringify(REPORT), 200));
  assert.match(body, /<div id="f-node-w" hidden="">/, 'a node\'s own report: no node filter');
});

test('a survey\'s title (cx_survey title) heads its card, its name beside it', { skip, timeout: 120000 }, async () => {
  const r = JSON.parse(JSON.stringify(REPORT));
  r.surveys[0].title = 'After the purchase <b>!</b>';
  const { body } = await scenario(JSON.stringify(r), 200);
  assert.match(body, /<h2 id="s0">After the purchase &lt;b&gt;!&lt;\/b&gt;<span class="mu sn">nps_after_purchase<\/span><span class="badge">NPS<\/span><\/h2>/);
  assert.match(body, /<h2 id="s1">csat_support<span class="badge">CSAT<\/span><\/h2>/, 'no title: the name alone');
});

test('targets: a report without any leaves the page as it was', { skip, timeout: 120000 }, async () => {
  const { body } = await scenario(JSON.stringify(REPORT), 200);
  assert.doesNotMatch(text(body), /target/i);
  assert.doesNotMatch(body, /class="(?:tg|bt|lo|tl)"/);
});

/* ---------- the journey view (issue 15): stages, moves, time to purchase, re-surveys ---------- */

/* the report.json of t/82-dashboard-journey.t: six stages, twelve moves, a hostile touchpoint */
const JOURNEY = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'browser', 'journey-report.json'), 'utf8'));

/* the journey section, and its parts */
function journeyOf(body) {
  const m = body.match(/<section id="journey" class="card" aria-labelledby="jh">[\s\S]*?<\/section>/);
  assert.ok(m, 'the journey section');
  return m[0];
}
/* the stages' items (each starts <li><h3>), as { lo, text } */
function stagesOf(j) {
  const ol = j.match(/<ol class="stg">([\s\S]*?)<\/ol>/);
  assert.ok(ol, 'the list of stages');
  return ol[1].split(/(?=<li(?: class="lo")?><h3>)/).map((x) => ({ lo: x.startsWith('<li class="lo">'), text: text(x).trim() }));
}

test('journey: durations are humanised', () => {
  const src = SRC.match(/function secs\(s\) \{[\s\S]*?\n\}/);
  assert.ok(src, 'secs() in the page');
  const secs = new Function('DASH', `${src[0]}; return secs;`)('\u2014');
  assert.deepEqual([42, 59.4, 180, 3599, 7200, 86399, 86400, 432000, 400000, null].map(secs),
    ['42 s', '59 s', '3 min', '60 min', '2 h', '24 h', '1 d', '5 d', '5 d', '\u2014']);
});

test('journey: stages, conversion, targets, moves, time to purchase and re-surveys, as text', { skip, timeout: 120000 }, async () => {
  const { body } = await scenario(JSON.stringify(JOURNEY), 200);
  const j = journeyOf(body), t = text(j);
  assert.doesNotMatch(text(body), /Could not load/);
  assert.match(t, /^ ?Journey 200 visitors at any touchpoint \(visitor counts are estimates, within about 3%\)\./);
  /* the six stages, in journey order, each with its visitors, share, answers, score and targets */
  const st = stagesOf(j);
  assert.deepEqual(st.map((x) => x.text.split(' ')[0]), ['awareness', 'consideration', 'purchase', 'usage', 'loyalty', 'advocacy']);
  assert.deepEqual(st, [
    { lo: false, text: 'awareness 150 visitors 75% of all visitors 0 answers Score \u2014 home, landing' },
    { lo: false, text: 'consideration 120 visitors 60% of all visitors 12 answers Score 83% CSAT csat_product 83% (target 80%) compare, product' },
    { lo: true, text: `purchase 80 visitors 40% of all visitors 40 answers Score +13 NPS nps1 +13 (target +30) \u25bc below target checkout, ${XSS}` },
    { lo: true, text: 'usage 60 visitors 30% of all visitors 20 answers Score \u2014 nps1 +40 (target +30) ces_help 4.2 (target 5.0) \u25bc below target account' },
    { lo: false, text: 'loyalty 30 visitors 15% of all visitors 0 answers Score \u2014 orders' },
    { lo: false, text: 'advocacy 9 visitors 4.5% of all visitors 5 answers Score +60 NPS nps1 +60 refer' },
  ], 'below target marked in words, per survey of a stage; the stage bordered');
  assert.ok(j.includes(`<li>nps1 +13 (target +30)${MARK}</li>`));
  assert.match(j, /<svg class="fb" viewBox="0 0 100 6" preserveAspectRatio="none" aria-hidden="true"><rect width="100" height="6" class="fbg"><\/rect><rect width="40" height="6" class="b"><\/rect><\/svg>/,
    'the conversion bar, hidden from screen readers (the share is in the text)');
  /* the ten strongest moves, of twelve, with their times humanised */
  const mv = rowsOf(j, 'Moves between touchpoints, strongest first');
  assert.equal(mv.head, 'From \u2192 to Moves Visitors Median time');
  assert.deepEqual(mv.rows.map((x) => x.text), [
    'home \u2192 product 90 70 42 s', 'product \u2192 checkout 60 45 3 min', `checkout \u2192 ${XSS} 40 38 2 h`,
    'landing \u2192 compare 35 30 2 min', 'compare \u2192 product 30 25 30 s', `${XSS} \u2192 account 25 20 5 d`,
    'account \u2192 orders 20 15 1 d', 'orders \u2192 refer 12 9 14 d', 'home \u2192 landing 10 10 5 s', 'product \u2192 home 8 8 10 min']);
  assert.match(t, /Time to purchase Median 1 d 90% within 5 d Visitors 35 /);
  /* re-surveys: a group per survey, its band movements; none listed when it has no repeat answers */
  const rs = rowsOf(j, 'Band movement of repeat answers, by survey');
  assert.equal(rs.head, 'Survey, band movement Answers');
  assert.deepEqual(rs.rows.map((x) => x.text), [
    'nps1 (NPS) \u00b7 mean change +1.4 5', 'detractor \u2192 passive 1', 'detractor \u2192 promoter 1', 'passive \u2192 promoter 0',
    'passive \u2192 detractor 0', 'promoter \u2192 passive 0', 'promoter \u2192 detractor 1', 'unchanged 2',
    'csat_product (CSAT) \u00b7 mean change \u22120.7 3', 'detractor \u2192 passive 0', 'detractor \u2192 promoter 0', 'passive \u2192 promoter 0',
    'passive \u2192 detractor 1', 'promoter \u2192 passive 1', 'promoter \u2192 detractor 0', 'unchanged 1',
    'ces_help (CES) \u00b7 mean change 0.0 0']);
  /* the hostile touchpoint is text everywhere */
  assert.ok(j.includes('&lt;img src=x onerror=alert(1)&gt;'), 'escaped in the DOM');
  assert.doesNotMatch(body, /<img\b/i, 'no img element was created');
  /* by touchpoint, in the survey's card: the row's own stage, the target beside the score */
  const r = rowsOf(cardOf(body, 'nps1'), 'Answers and score by touchpoint');
  assert.equal(r.head, 'Touchpoint Stage Answered Share Score (target +30)');
  assert.deepEqual(r.rows.map((x) => [x.lo, x.text]), [
    [true, 'checkout purchase 25 45% +10 \u25bc below target'], [true, `${XSS} purchase 15 27% +16 \u25bc below target`],
    [false, 'account usage 10 18% +40'], [false, 'refer advocacy 5 9% +60']]);
});

test('journey: a row\'s own stage wins over the touchpoint\'s; odd values are coerced', { skip, timeout: 120000 }, async () => {
  const d = JSON.parse(JSON.stringify(JOURNEY));
  d.surveys[0].by_touchpoint[3].stage = 'loyalty';          /* refer: advocacy in touchpoints[] */
  d.stages[0].touchpoints = [XSS, 7, null, { a: 1 }];
  d.stages[1].surveys = 'x';
  d.journey.transitions = [null, { from: XSS, to: '<b>x</b>', moves: '9', median_seconds: 'x' }];
  d.journey.time_to_purchase = { visitors: 0, median_seconds: null, p90_seconds: null };
  d.journey.conversion = [{ stage: 'purchase', percent: 140 }];
  const { body } = await scenario(JSON.stringify(d), 200);
  const j = journeyOf(body), t = text(j);
  assert.match(text(cardOf(body, 'nps1')), /refer loyalty 5 9% \+60/);
  assert.match(text(body), /By journey stage .* purchase 40 \+12 \u25bc below target usage 10 \+40 loyalty 5 \+60/);
  assert.match(t, new RegExp(`awareness 150 visitors 0 answers Score \u2014 ${XSS.replace(/[()]/g, '\\$&')}, 7 consideration 120 visitors 12 answers`));
  assert.match(j, /<rect width="100" height="6" class="b">/, 'a share above 100% is drawn full');
  assert.deepEqual(rowsOf(j, 'Moves between touchpoints, strongest first').rows.map((x) => x.text), [`${XSS} \u2192 <b>x</b> \u2014 \u2014 \u2014`]);
  assert.match(t, /Time to purchase No purchases yet\./);
  assert.doesNotMatch(body, /<img\b|<b>x<\/b>/i);
});

test('journey: absent (an older module) or empty: "No journey data yet", the page unharmed', { skip, timeout: 180000 }, async () => {
  for (const d of [REPORT, { ...REPORT, stages: 'x', journey: [1] }, { ...REPORT, stages: [] }]) {
    const { body } = await scenario(JSON.stringify(d), 200);
    assert.match(body, /<section id="journey" class="card" aria-labelledby="jh"><h2 id="jh">Journey<\/h2><p class="empty">No journey data yet\.<\/p><\/section>/);
    assert.match(text(body), /nps_after_purchase NPS \+20/, 'the report is there');
    assert.match(text(body), /purchase purchase 5 100% \+20/, 'the stage of a row from touchpoints[]');
  }
  /* stages without the rest: shown, and each missing part says so */
  const { body } = await scenario(JSON.stringify({ ...REPORT, stages: JOURNEY.stages }), 200);
  const t = text(journeyOf(body));
  assert.match(t, /Journey \u2014 visitors at any touchpoint \(/);
  assert.match(t, /purchase 80 visitors 40 answers Score \+13 NPS nps1 \+13 \(target \+30\) \u25bc below target/, 'no share without conversion');
  assert.match(t, /No moves between touchpoints yet\..*No purchases yet\..*No repeat answers yet\./);
  assert.doesNotMatch(journeyOf(body), /<svg/);
});

/* ---------- the trend by day, week or month, and the period before (issue 17.5) ---------- */

/* a function of the page by its name: a one-line one, or up to its closing brace at column 0 */
function fnSrc(name) {
  const i = SRC.indexOf(`\nfunction ${name}(`);
  assert.ok(i >= 0, `function ${name} in the page`);
  const line = SRC.slice(i + 1, SRC.indexOf('\n', i + 1));
  if (/\}$/.test(line) && line.split('{').length === line.split('}').length) return line;
  return SRC.slice(i + 1, SRC.indexOf('\n}\n', i) + 2);
}
const TREND_FNS = ['isDay', 'num', 'str', 'arr', 'dayMs', 'ymd', 'realDay', 'monday', 'isoWeek', 'bucketStart', 'bucketNext',
  'bucketName', 'tick', 'autoUnit', 'days', 'exact', 'tally', 'buckets', 'rnd', 'fmt', 'span', 'change', 'within', 'period'];
/* the trend's arithmetic, with RANGE (the dates filtered, in ms) as given */
function trendKit(RANGE) {
  const types = SRC.match(/var TYPES = \{[\s\S]*?\n\};/)[0];
  return new Function('RANGE', `var DAY = 864e5, DASH = '\\u2014', MINUS = '\\u2212', NDASH = '\\u2013';\n${types}\n` +
    `${TREND_FNS.map(fnSrc).join('\n')}\nreturn { ${TREND_FNS.join(', ')}, TYPES: TYPES };`)(RANGE || {});
}
const near = (a, b, what) => assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${what}: ${a} is not ${b}`);

test('trend: ISO weeks (from Monday, UTC), months, real days, and the unit chosen from the range', () => {
  const k = trendKit(), d = k.dayMs;
  assert.equal(k.isoWeek(d('2026-01-01')), '2026-W01', 'a Thursday: week 1');
  assert.equal(k.isoWeek(d('2025-12-29')), '2026-W01', 'its Monday, in the year before');
  assert.equal(k.isoWeek(d('2025-12-28')), '2025-W52', 'the Sunday before');
  assert.equal(k.isoWeek(d('2027-01-01')), '2026-W53', 'a Friday: 2026 has 53 weeks');
  assert.equal(k.isoWeek(d('2027-01-04')), '2027-W01');
  assert.equal(k.isoWeek(d('2026-11-02')), '2026-W45');
  assert.equal(k.ymd(k.monday(d('2026-11-29'))), '2026-11-23', 'Sunday: the Monday before');
  assert.equal(k.ymd(k.monday(d('2026-11-23'))), '2026-11-23', 'Monday: itself');
  assert.equal(k.ymd(k.bucketStart('month', d('2024-02-29'))), '2024-02-01');
  assert.equal(k.ymd(k.bucketNext('month', d('2026-12-01'))), '2027-01-01');
  assert.equal(k.ymd(k.bucketNext('week', d('2026-12-28'))), '2027-01-04');
  assert.equal(k.bucketName('week', d('2026-11-23')), '2026-W48 (from 2026-11-23)');
  assert.deepEqual(['day', 'week', 'month'].map((u) => k.tick(u, d('2026-11-23'))), ['11-23', 'W48', '2026-11']);
  const unit = (a, b) => k.autoUnit(d(a), d(b));
  assert.deepEqual([unit('2026-11-24', '2026-11-24'), unit('2026-11-01', '2026-12-01'), unit('2026-11-01', '2026-12-02'),
    unit('2026-01-01', '2026-07-01'), unit('2026-01-01', '2026-07-02'), unit('2025-01-01', '2026-12-31')],
  ['day', 'day', 'week', 'week', 'month', 'month'], '31 days by day, 182 by week, longer by month');
  assert.deepEqual(['2026-02-28', '2024-02-29', '9999-12-31', '1970-01-01'].map(k.realDay), [true, true, true, true]);
  assert.deepEqual(['2026-02-29', '2026-02-30', '2026-13-01', '2026-04-31', '1969-12-31', '2026-1-05', '20261124', ''].map(k.realDay),
    [false, false, false, false, false, false, false, false]);
});

/* NPS answers per score on five days: W45 6 answers (promoters 3, detractors 2), W46 1 promoter,
 * W49 1 passive; November 7 answers (promoters 4, detractors 2), December 1 */
const NPS_DAYS = [
  { date: '2026-11-02', answered: 3, score: 33.3, distribution: [1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1] },
  { date: '2026-11-04', answered: 2, score: 50.0, distribution: [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1] },
  { date: '2026-11-08', answered: 1, score: -100.0, distribution: [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] },
  { date: '2026-11-09', answered: 1, score: 100.0, distribution: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] },
  { date: '2026-12-01', answered: 1, score: 0.0, distribution: [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0] },
];

test('trend: weeks and months add up exactly from the days\' answers per score', () => {
  const k = trendKit(), d = k.dayMs, T = k.TYPES;
  const rows = k.days({ by_day: NPS_DAYS }, T.nps);
  const wk = k.buckets(rows, 'week', 'nps', T.nps, d('2026-11-02'), d('2026-12-06'));
  assert.deepEqual(wk.map((b) => k.ymd(b.ms)), ['2026-11-02', '2026-11-09', '2026-11-16', '2026-11-23', '2026-11-30'],
    'every week of the range, the empty ones too');
  assert.deepEqual(wk.map((b) => b.n), [6, 1, 0, 0, 1]);
  near(wk[0].s, 100 / 6, 'W45: (3 - 2) / 6');
  near(wk[1].s, 100, 'W46');
  assert.deepEqual([wk[2].s, wk[3].s], [null, null], 'no answers: no score');
  near(wk[4].s, 0, 'W49: one passive');
  const mo = k.buckets(rows, 'month', 'nps', T.nps, d('2026-11-02'), d('2026-12-06'));
  assert.deepEqual(mo.map((b) => [k.ymd(b.ms), b.n]), [['2026-11-01', 7], ['2026-12-01', 1]]);
  near(mo[0].s, 200 / 7, 'November: (4 - 2) / 7');
  const day = k.buckets(rows, 'day', 'nps', T.nps, d('2026-11-02'), d('2026-11-09'));
  assert.deepEqual(day.map((b) => b.n), [3, 0, 2, 0, 0, 0, 1, 1], 'days: as they are');
  /* an older module's rows (no answers per score): the days' rounded scores weighted by answers */
  const old = k.days({ by_day: NPS_DAYS.map((x) => ({ date: x.date, answered: x.answered, score: x.score })) }, T.nps);
  near(k.buckets(old, 'week', 'nps', T.nps, d('2026-11-02'), d('2026-11-08'))[0].s, 99.9 / 6, 'W45 from rounded day scores');
  /* CSAT and CES */
  const csat = k.days({ by_day: [{ date: '2026-11-02', answered: 4, score: 50, distribution: [1, 0, 1, 1, 1] },
    { date: '2026-11-03', answered: 2, score: 100, distribution: [0, 0, 0, 0, 2] }] }, T.csat);
  near(k.buckets(csat, 'week', 'csat', T.csat, d('2026-11-02'), d('2026-11-03'))[0].s, 400 / 6, 'CSAT: 4 of 6 are 4 or 5');
  const ces = k.days({ by_day: [{ date: '2026-11-02', answered: 2, score: 4, distribution: [1, 0, 0, 0, 0, 0, 1] },
    { date: '2026-11-30', answered: 1, score: 3, distribution: [0, 0, 1, 0, 0, 0, 0] }] }, T.ces);
  near(k.buckets(ces, 'month', 'ces', T.ces, d('2026-11-02'), d('2026-11-30'))[0].s, 11 / 3, 'CES: (1 + 7 + 3) / 3');
  /* a distribution that does not fit the scale is not used */
  const odd = k.days({ by_day: [{ date: '2026-11-02', answered: 2, score: 4.5, distribution: [1, 1] }] }, T.ces);
  assert.equal(odd[0].dist, null);
  near(k.tally(odd, 'ces', T.ces).s, 4.5, 'falls back to the day\'s score');
});

test('trend: the period and the one before; the change as shown', () => {
  const d = trendKit().dayMs, ymd = trendKit().ymd;
  const per = (R, gen) => { const p = trendKit(R).period(gen || '2026-11-24T12:00:00Z'); return [ymd(p.p0), ymd(p.p1), ymd(p.q0), ymd(p.q1), p.n, p.own]; };
  assert.deepEqual(per({}), ['2026-10-26', '2026-11-24', '2026-09-26', '2026-10-25', 30, false], 'no dates: the last 30 days');
  assert.deepEqual(per({ from: d('2026-11-01'), to: d('2026-11-30') }), ['2026-11-01', '2026-11-30', '2026-10-02', '2026-10-31', 30, true]);
  assert.deepEqual(per({ from: d('2026-11-02'), to: d('2026-12-06') }), ['2026-11-02', '2026-12-06', '2026-09-28', '2026-11-01', 35, true]);
  assert.deepEqual(per({ from: d('2026-11-10'), to: d('2026-11-10') }), ['2026-11-10', '2026-11-10', '2026-11-09', '2026-11-09', 1, true]);
  assert.deepEqual(per({ from: d('2026-11-20') }), ['2026-11-20', '2026-11-24', '2026-11-15', '2026-11-19', 5, true], 'from: to the report\'s day');
  assert.deepEqual(per({ to: d('2026-06-30') }), ['2026-06-01', '2026-06-30', '2026-05-02', '2026-05-31', 30, false], 'to: its last 30 days');
  const k = trendKit();
  assert.deepEqual([k.change('nps', 4.24), k.change('nps', -12), k.change('csat', 0.04), k.change('ces', -0.26), k.change('ces', 1)],
    ['+4.2 points', '\u221212.0 points', '\u00b10.0 points', '\u22120.3', '+1.0']);
});

const TREND_REPORT = {
  generated_at: '2026-12-07T12:00:00Z', touchpoints: [],
  surveys: [{ name: 'nps_w', type: 'nps', offered: 8, displayed: 8, answered: 8, dismissed: 0, score: 25.0,
    promoters: 4, passives: 2, detractors: 2, distribution: [1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 3],
    by_touchpoint: [{ touchpoint: 'shop', answered: 8, score: 25.0 }], by_day: NPS_DAYS, comments: [] }],
};
const PREV_REPORT = { generated_at: '2026-12-07T12:00:00Z', touchpoints: [],
  surveys: [{ name: 'nps_w', type: 'nps', answered: 4, score: 0.0,
    by_day: [{ date: '2026-10-15', answered: 4, score: 0.0, distribution: [1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0] }] }] };

test('trend: 35 days are shown by week (auto), every week of the range in the table', { skip, timeout: 120000 }, async () => {
  const { body } = await scenario((p) => [200, JSON.stringify(p.get('from') === '2026-11-02' ? TREND_REPORT : PREV_REPORT)], 200,
    '?from=2026-11-02&to=2026-12-06');
  const c = cardOf(body, 'nps_w');
  assert.match(c, /<h3>Trend by week<\/h3>/);
  assert.match(c, /<div class="tabs" role="group" aria-label="Show the trend by"><button type="button" value="day" aria-pressed="false">Day<\/button><button type="button" value="week" aria-pressed="true">Week \(auto\)<\/button><button type="button" value="month" aria-pressed="false">Month<\/button><\/div>/);
  assert.match(c, /<title id="c\d+t">Trend by week: NPS and answers<\/title>/);
  assert.match(c, /<desc id="c\d+d">5 weeks from 2026-W45 \(from 2026-11-02\) to 2026-W49 \(from 2026-11-30\), 3 with answers; latest week with answers: 2026-W49 \(from 2026-11-30\), score 0, 1 answer\./);
  const r = rowsOf(c, 'Answers and score by week');
  assert.equal(r.head, 'Week (UTC, from Monday) Answers Score');
  assert.deepEqual(r.rows.map((x) => x.text), ['2026-W49 (from 2026-11-30) 1 0', '2026-W46 (from 2026-11-09) 1 +100', '2026-W45 (from 2026-11-02) 6 +17']);
  assert.match(text(c), /Line: score per week \(UTC, ISO weeks from Monday\)\. Bars: answers per week\./);
});

test('trend: the period before, fetched with the same filters; the change and its count', { skip, timeout: 120000 }, async () => {
  const { body, seen } = await scenario((p) => [200, JSON.stringify(p.get('from') === '2026-11-02' ? TREND_REPORT : PREV_REPORT)], 200,
    '?survey=nps_w&from=2026-11-02&to=2026-12-06');
  assert.ok(seen.includes('/cx-admin/report.json?survey=nps_w&from=2026-09-28&to=2026-11-01'), `the period before asked for: ${seen.join(' ')}`);
  const c = cardOf(body, 'nps_w');
  assert.match(c, /<p class="cmp"><strong class="up">\+25\.0 points<\/strong> vs the previous 35 days \(2026-09-28 \u2013 2026-11-01: 0 from 4 answers\)\.<\/p>/);
  /* the period before without answers, or not loaded */
  let t = text(cardOf((await scenario((p) => [200, JSON.stringify(p.get('from') === '2026-11-02' ? TREND_REPORT
    : { surveys: [{ name: 'nps_w', type: 'nps', by_day: [] }] })], 200, '?from=2026-11-02&to=2026-12-06')).body, 'nps_w'));
  assert.match(t, /No answers in the previous 35 days \(2026-09-28 \u2013 2026-11-01\) to compare with\./);
  t = text(cardOf((await scenario((p) => (p.get('from') === '2026-11-02' ? [200, JSON.stringify(TREND_REPORT)] : [503, '{}']), 200,
    '?from=2026-11-02&to=2026-12-06')).body, 'nps_w'));
  assert.match(t, /Could not load the previous 35 days: the server answered HTTP 503 Service Unavailable\./);
});

test('trend: without dates, the last 30 days against the 30 before, from the same report', { skip, timeout: 120000 }, async () => {
  const r = JSON.parse(JSON.stringify(TREND_REPORT));
  r.surveys[0].by_day = NPS_DAYS.concat([{ date: '2026-12-05', answered: 2, score: -100.0, distribution: [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0] }]);
  const { body, seen } = await scenario(JSON.stringify(r), 200);
  assert.deepEqual(seen.filter((u) => u.startsWith('/cx-admin/report.json')), ['/cx-admin/report.json'], 'one report.json');
  /* the last 30 days (11-08 to 12-07): 11-08 D, 11-09 P, 12-01 passive, 12-05 D D: (1 - 3) / 5 = -40;
   * the 30 before (10-09 to 11-07): 11-02 and 11-04: (3 - 1) / 5 = +40 */
  assert.match(text(cardOf(body, 'nps_w')), /Last 30 days \(2026-11-08 \u2013 2026-12-07\): \u221240 from 5 answers\. \u221280\.0 points vs the previous 30 days \(2026-10-09 \u2013 2026-11-07: \+40 from 5 answers\)\./);
  assert.match(cardOf(body, 'nps_w'), /<strong class="down">\u221280\.0 points<\/strong>/);
  /* auto: the data's own span (11-02 to 12-05: 34 days) by week */
  assert.match(cardOf(body, 'nps_w'), /<h3>Trend by week<\/h3>/);
});

/* ---------- the comments view (issue 17.6) ---------- */

const PAGE1 = { comments: [
  { id: 'c'.repeat(24), at: '2026-11-24T11:00:00Z', survey: 'nps1', type: 'nps', score: 2, band: 'detractor', touchpoint: '<b>x</b>', stage: '', comment: XSS },
  { id: 'b'.repeat(24), at: '2026-11-23T10:00:00Z', survey: 'csat1', type: 'csat', score: 5, band: 'promoter', touchpoint: 'help', stage: 'usage', comment: 'Lovely' },
], next: 'a'.repeat(24), examined: 5000, stopped_early: true };
const PAGE2 = { comments: [
  { id: '9'.repeat(24), at: '2026-11-20T09:00:00Z', survey: 'nps1', type: 'nps', score: 7, band: 'passive', touchpoint: 'shop', stage: 'purchase', comment: 'ok' },
], next: '8'.repeat(24), examined: 1200, stopped_early: false };

test('comments: the newest page, a page cut short by the server\'s bound followed at once, Older offered', { skip, timeout: 120000 }, async () => {
  const { body, seen } = await scenario(JSON.stringify(REPORT), 200, '?survey=nps1&from=2026-11-01', null,
    (p) => [200, JSON.stringify(p.get('before') ? PAGE2 : PAGE1)]);
  assert.ok(seen.includes('/cx-admin/comments.json?survey=nps1&from=2026-11-01&limit=20'), `the first page: ${seen.join(' ')}`);
  assert.ok(seen.includes(`/cx-admin/comments.json?survey=nps1&from=2026-11-01&limit=20&before=${'a'.repeat(24)}`), 'then from its next');
  assert.equal(seen.filter((u) => u.includes('comments.json')).length, 2, 'and no more (that page was not cut short)');
  const sec = body.match(/<section id="comments" class="card" aria-labelledby="cmh">[\s\S]*?<\/section>/)[0], t = text(sec);
  assert.match(t, /^ ?Comments Every comment, newest first, with the filters above\./);
  assert.match(sec, /<label for="cm-q">Search<\/label><input id="cm-q" type="search" maxlength="100"/);
  assert.match(sec, /<label for="cm-band">Band<\/label><select id="cm-band"><option value="">Any band<\/option><option value="detractor">Detractors<\/option>/);
  assert.match(sec, /<label for="cm-tp">Touchpoint<\/label><select id="cm-tp"><option value="">Any touchpoint<\/option>/);
  assert.match(t, new RegExp(`2 out of 10 detractor \u00b7 nps1 at <b>x</b> \u00b7 2026-11-24 11:00 UTC ${XSS.replace(/[()]/g, '\\$&')} ` +
    '5 out of 5 promoter \u00b7 csat1 at help \u00b7 2026-11-23 10:00 UTC Lovely 7 out of 10 passive \u00b7 nps1 at shop \u00b7 2026-11-20 09:00 UTC ok'));
  assert.match(sec, /<span class="sc bad">2<span class="sr"> out of 10<\/span><\/span>/);
  assert.match(sec, /<span class="sc good">5<span class="sr"> out of 5<\/span><\/span>/);
  assert.doesNotMatch(sec, /<img\b|<b>x<\/b>/, 'hostile text stays text');
  assert.match(sec, /<p id="cm-stat" role="status" class="mu">3 comments shown, newest first\.<\/p>/);
  assert.match(sec, /<button type="button" class="sec" id="cm-more">Older comments<\/button>/, 'Older: shown (there is a next)');
});

test('comments: none, a search refused, a source without them', { skip, timeout: 180000 }, async () => {
  let { body } = await scenario(JSON.stringify(REPORT), 200);
  assert.match(body, /<p id="cm-stat" role="status" class="mu">No comments yet\.<\/p>/);
  assert.match(body, /<button type="button" class="sec" id="cm-more" hidden="">Older comments<\/button>/, 'Older: hidden');
  ({ body } = await scenario(JSON.stringify(REPORT), 200, '', null, () => [501, '{"error":"no comments here"}']));
  assert.match(text(body), /Could not load the comments: the server answered HTTP 501 Not Implemented \(not available from this source\)\./);
  ({ body } = await scenario(JSON.stringify(REPORT), 200, '', null, () => [400, '{"error":"q= takes at most 100 characters of UTF-8","parameter":"q"}']));
  assert.match(text(body), /Could not load the comments: the server refused the filter \u201cq\u201d: q= takes at most 100 characters of UTF-8/);
});

/* ---------- segments (issue 17.7) and preview (17.4) ---------- */

test('segments: ?by= loads segments.json with the filters; values, (none), (other values) as a table', { skip, timeout: 120000 }, async () => {
  SEGMENTS = (p) => [200, JSON.stringify({ by: p.get('by'), scanned: 9, surveys: [{ name: 'nps1', title: 'After <b>buying</b>', type: 'nps', segments: [
    { value: 'gold', answered: 3, score: 33.3, promoters: 2, passives: 0, detractors: 1 },
    { value: '', answered: 1, score: -100, promoters: 0, passives: 0, detractors: 1 },
    { value: null, other: true, answered: 2, score: 100, promoters: 2, passives: 0, detractors: 0 }] }] })];
  try {
    const { body, seen } = await scenario(JSON.stringify(REPORT), 200, '?by=attr.tier&survey=nps1&node=web-1');
    assert.ok(seen.includes('/cx-admin/segments.json?by=attr.tier&survey=nps1'), `asked with the filters, not node: ${seen.join(' ')}`);
    const sec = body.match(/<section id="segments"[\s\S]*?<\/section>/)[0], t = text(sec);
    assert.match(sec, /<label for="sg-by">Segment by<\/label><select id="sg-by">/);
    assert.match(sec, /<option value="attr" selected="">|<input id="sg-key"[^>]*>/);
    assert.match(t, /1 survey with answers, split by attr\.tier\./);
    assert.match(t, /After <b>buying<\/b> Segment Answers Score Promoters Passives Detractors gold 3 \+33 2 0 1 \(none\) 1 \u2212100 0 0 1 \(other values\) 2 \+100 2 0 0/);
    assert.doesNotMatch(sec, /<b>buying/, 'a title is text');
    const pv = body.match(/<section id="preview"[\s\S]*?<\/section>/)[0];
    assert.match(pv, /<form class="fl" action="preview" method="get" target="_blank" aria-label="Preview a survey">/);
    assert.match(pv, /<select id="pv-survey" name="survey" required="required"><option value="nps_after_purchase">nps_after_purchase<\/option><option value="csat_support">/,
      'every survey of the report');
    assert.match(pv, /<input id="pv-page" name="page" type="text" value="\/" required="required" pattern="\/\.\*"/);
  } finally {
    SEGMENTS = null;
  }
});

test('segments: every view split — the trend and the touchpoints per value, a line each, "partial" said', { skip, timeout: 120000 }, async () => {
  const d = (date, answered, score, distribution) => ({ date, answered, score, distribution });
  SEGMENTS = () => [200, JSON.stringify({ by: 'device', scanned: 9, surveys: [{ name: 'csat1', type: 'csat', segments: [
    { value: 'mobile', answered: 3, score: 66.7, partial: true,
      by_touchpoint: [{ touchpoint: 'buy', stage: 'purchase', answered: 2, score: 50 }, { touchpoint: 'help', stage: 'usage', answered: 1, score: 100 }],
      by_day: [d('2026-11-02', 2, 50, [1, 0, 0, 1, 0]), d('2026-11-04', 1, 100, [0, 0, 0, 0, 1])] },
    { value: 'desktop', answered: 1, score: 0,
      by_touchpoint: [{ touchpoint: 'buy', stage: 'purchase', answered: 1, score: 0 }],
      by_day: [d('2026-11-04', 1, 0, [0, 0, 1, 0, 0])] }] }] })];
  try {
    const { body } = await scenario(JSON.stringify(REPORT), 200, '?by=device&from=2026-11-01&to=2026-11-05');
    const sec = body.match(/<section id="segments"[\s\S]*?<\/section>/)[0], t = text(sec);
    assert.match(t, /Trend by day and segment/);
    assert.match(t, /Day \(UTC\) mobile desktop 2026-11-04 100% \(1\) 0% \(1\) 2026-11-02 50% \(2\) \u2014/, 'the trend table: newest first, a column per value');
    assert.match(t, /By touchpoint and segment .*Touchpoint \(stage\) mobile desktop buy \(purchase\) 50% \(2\) 0% \(1\) help \(usage\) 100% \(1\) \u2014/, 'the touchpoints table, with stages');
    const ch = (sec.match(/<svg class="ch" viewBox="0 0 \d+ 190" role="img"[\s\S]*?<\/svg>/) || [''])[0];
    assert.equal((ch.match(/<path d="M[^"]*" class="sl k0"/g) || []).length, 1, 'the chart: one line for mobile');
    assert.equal((ch.match(/<circle [^>]*class="sp k0"/g) || []).length, 2, '... a point per day with answers');
    assert.equal((ch.match(/<circle [^>]*class="sp k1"/g) || []).length, 1, 'desktop: one point');
    assert.match(ch, /<text x="[\d.]+" y="188" class="m">11-01<\/text>/, 'days on the axis');
    assert.match(sec, /<path d="M1 5H25" class="sl k1"><\/path><\/svg> desktop/, 'the legend: each line\'s pattern and value');
    assert.match(t, /more than 400 days or 64 touchpoints/, 'partial said');
  } finally {
    SEGMENTS = null;
  }
});

test('segments: not asked without ?by=', { skip, timeout: 120000 }, async () => {
  const { body, seen } = await scenario(JSON.stringify(REPORT), 200);
  assert.ok(!seen.some((u) => u.includes('segments.json')), 'no segments.json');
  assert.match(body, /<section id="segments"/);
});

/* ---------- invalid filters (issue 17.8): said, never "no answers yet" ---------- */

test('filters: a bad date or from after to is said as such, and nothing is loaded', { skip, timeout: 180000 }, async () => {
  for (const [q, why] of [
    ['?from=2026-02-30', '\u201cfrom\u201d day \u201c2026-02-30\u201d is not a date: write it YYYY-MM-DD (UTC), like 2026-11-24.'],
    ['?to=yesterday', '\u201cto\u201d day \u201cyesterday\u201d is not a date'],
    ['?from=2026-11-25&to=2026-11-24', '\u201cfrom\u201d day (2026-11-25) is after the \u201cto\u201d day (2026-11-24).'],
  ]) {
    const { body, seen } = await scenario(JSON.stringify(REPORT), 200, q);
    const t = text(body);
    assert.ok(t.includes(`These filters are not valid: The ${why}`), `${q}: said (${t.slice(0, 400)})`);
    assert.match(t, /Nothing was loaded\. Correct the filter above, or clear the filters ?\./);
    assert.match(t, /The filters are not valid\./);
    assert.doesNotMatch(t, /No answers yet|No surveys|Could not load/, `${q}: not an empty report`);
    assert.deepEqual(seen.filter((u) => /\.json/.test(u)), [], `${q}: nothing fetched`);
    assert.match(body, /<div class="msg err" role="alert">/);
    assert.match(body, new RegExp(`id="f-${q.includes('to=yesterday') ? 'to' : 'from'}"[^>]*aria-invalid="true" aria-describedby="ferr"`));
  }
  /* one the server refuses: its reason, the filter named */
  const { body } = await scenario('{"error":"from= is after to=","parameter":"from"}', 400, '?from=2026-11-20');
  const t = text(body);
  assert.match(t, /These filters are not valid: The server refused the filter \u201cfrom\u201d: from= is after to=/);
  assert.doesNotMatch(t, /No answers yet|No surveys|Could not load the report/);
});
