#!/usr/bin/env node
/* Real-browser checks of the dashboard's journey view (issue 15), driven by
 * t/82-dashboard-journey.t.
 *
 *   node t/browser/journey.js BASE_URL ARTIFACT_DIR
 *
 * BASE_URL is an nginx started by the .t file with the dashboard at /cx-admin/, whose
 * report.json is t/browser/journey-report.json (six stages, twelve moves, the touchpoint
 * `<img src=x onerror=alert(1)>`, stages below their survey's target), and the same
 * dashboard at /cx-real/ with the module's own report.json.  The checks: the view opened
 * by its link (#journey) at 1280 px, its stages side by side, the hostile name as text;
 * at 390 px, no sideways scrolling and the stages wrapped; no text under 11 px at either
 * width; axe-core on the view; no CSP violation, page error or console error; and the
 * view with the module's report.json.  Screenshots of the view: dashboard-journey-1280.png,
 * dashboard-journey-390.png.
 *
 * Prints ONE line of JSON on stdout: {"ok":bool,"ms":N,"checks":{NAME:{"ok":bool,
 * "error":"...", ...details}}}. Exit 0 when all checks pass, 1 when some fail, 2 when the
 * browser could not be started, 3 on the global watchdog.  Every wait is bounded. */
'use strict';

const path = require('path');
const { harness, assert, AXE } = require('./lib');

const H = harness('journey.js', { checkTimeout: 30000, globalTimeout: 150000 });
const { BASE, ART } = H;
const XSS = '<img src=x onerror=alert(1)>';
const STAGES = ['awareness', 'consideration', 'purchase', 'usage', 'loyalty', 'advocacy'];

/* a page on the journey view, with what it logs */
async function open(viewport, url, track) {
  const ctx = await H.browser.newContext({ viewport, locale: 'en-US', reducedMotion: 'reduce' });
  if (track) track(ctx);
  ctx.setDefaultTimeout(8000);
  const page = await ctx.newPage();
  const log = { console: [], errors: [], dialogs: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.console.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('dialog', (d) => { log.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const resp = await page.goto(url || `${BASE}/cx-admin/#journey`, { waitUntil: 'load' });
  assert(resp && resp.status() === 200, `GET ${url}: ${resp && resp.status()}`);
  await page.waitForSelector('#journey', { timeout: 8000 });
  return { ctx, page, log };
}

/* what the eye sees of the view: stage boxes, overflow, the smallest text */
function measure(page) {
  return page.evaluate(() => {
    const v = document.getElementById('journey');
    const stages = [...v.querySelectorAll('ol.stg > li')].map((li) => {
      const r = li.getBoundingClientRect();
      return { name: li.querySelector('h3').textContent, x: Math.round(r.x), y: Math.round(r.y), w: Math.round(r.width) };
    });
    const small = [];
    let min = Infinity;
    for (const e of v.querySelectorAll('*')) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own || !e.getClientRects().length) continue;
      const px = parseFloat(getComputedStyle(e).fontSize);
      min = Math.min(min, px);
      if (px < 11) small.push(`${e.tagName.toLowerCase()}.${e.className && e.className.baseVal !== undefined ? e.className.baseVal : e.className}: ${px}px "${e.textContent.slice(0, 30)}"`);
    }
    const wraps = [...v.querySelectorAll('.wrap')].map((w) => ({ scroll: w.scrollWidth, client: w.clientWidth }));
    return { doc: document.documentElement.scrollWidth, win: window.innerWidth, stages, small, min, wraps,
      top: Math.round(v.getBoundingClientRect().top), inner: window.innerHeight };
  });
}

/* the text of each element SEL, its text nodes joined by spaces */
const text = (page, sel) => page.$$eval(sel, (l) => l.map((x) => {
  const w = document.createTreeWalker(x, NodeFilter.SHOW_TEXT);
  const out = [];
  while (w.nextNode()) out.push(w.currentNode.textContent);
  return out.join(' ').replace(/\s+/g, ' ').trim();
}));

let P;            /* the desktop page */
let LOG;

H.run(async () => {
  await H.check('desktop', async () => {
    ({ page: P, log: LOG } = await open({ width: 1280, height: 900 }));
    await P.waitForSelector('#journey ol.stg li', { timeout: 8000 });
    const m = await measure(P);
    assert(m.stages.map((s) => s.name).join() === STAGES.join(), 'the six stages, in order', m.stages);
    assert(m.stages.every((s, i) => s.y === m.stages[0].y && (!i || s.x > m.stages[i - 1].x)), 'side by side, left to right', m.stages);
    assert(Math.abs(m.top) <= 2, 'the link #journey scrolls the view to the top', { top: m.top });
    const st = await text(P, '#journey ol.stg > li');
    assert(st[2].startsWith('purchase 80 visitors 40% of all visitors 40 answers Score +13 NPS nps1 +13 (target +30) \u25bc below target'),
      'purchase: visitors, share, answers, score, target and the mark', st[2]);
    assert(st[2].endsWith(`checkout, ${XSS}`), 'the hostile touchpoint, as text', st[2]);
    const lo = await P.$$eval('#journey ol.stg > li.lo h3', (l) => l.map((x) => x.textContent));
    assert(lo.join() === 'purchase,usage', 'the stages with a survey below target are marked', lo);
    const moves = await text(P, '#journey table:has(caption:text-is("Moves between touchpoints, strongest first")) tbody tr');
    assert(moves.length === 10 && moves[0] === 'home \u2192 product 90 70 42 s', 'the ten strongest moves', moves);
    const [ttp] = await text(P, '#journey dl.st');
    assert(ttp === 'Median 1 d 90% within 5 d Visitors 35', 'time to purchase', ttp);
    assert(await P.$$eval('img', (x) => x.length) === 0, 'the hostile name made no <img>');
    assert(m.small.length === 0, 'no text under 11 px', m.small);
    await P.locator('#journey').screenshot({ path: path.join(ART, 'dashboard-journey-1280.png') });
    return { stages: m.stages.length, min_font_px: m.min, moves: moves.length };
  });

  await H.check('phone', async (track) => {
    const { page } = await open({ width: 390, height: 844 }, null, track);
    await page.waitForSelector('#journey ol.stg li', { timeout: 8000 });
    const m = await measure(page);
    assert(m.doc <= m.win, 'no sideways scrolling at 390 px', { doc: m.doc, win: m.win });
    assert(m.wraps.every((w) => w.scroll <= w.client), 'the tables fit (no scrolling inside them either)', m.wraps);
    assert(new Set(m.stages.map((s) => s.y)).size > 1, 'the stages wrap', m.stages);
    assert(m.stages.every((s) => s.x >= 0 && s.x + s.w <= m.win), 'every stage within the screen', m.stages);
    assert(m.small.length === 0, 'no text under 11 px', m.small);
    await page.locator('#journey').screenshot({ path: path.join(ART, 'dashboard-journey-390.png') });
    return { width: { doc: m.doc, win: m.win }, rows: new Set(m.stages.map((s) => s.y)).size, min_font_px: m.min };
  });

  await H.check('axe', async () => {
    assert(P, 'no page');
    await P.addScriptTag({ path: AXE });
    const v = await P.evaluate(async () => {
      const r = await window.axe.run({ include: [['#journey']] }, { resultTypes: ['violations'] });
      return r.violations.map((x) => ({ id: x.id, impact: x.impact, nodes: x.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
    });
    assert(v.length === 0, 'no axe violations in the journey view', v);
    return { violations: 0 };
  });

  await H.check('clean', async () => {
    assert(P, 'no page');
    const csp = await P.evaluate(() => window.__csp);
    assert(csp.length === 0, 'no CSP violation', csp);
    assert(LOG.errors.length === 0, 'no page error', LOG.errors);
    assert(LOG.dialogs.length === 0, 'no dialog (no script from the data ran)', LOG.dialogs);
    assert(LOG.console.length === 0, 'no console error', LOG.console);
    return { console: LOG.console };
  });

  /* the module's own report.json: whatever journey data it has, the view is drawn */
  await H.check('module_report', async (track) => {
    const { page, log } = await open({ width: 1280, height: 900 }, `${BASE}/cx-real/#journey`, track);
    await page.waitForFunction(() => !document.getElementById('out').hasAttribute('aria-busy'), null, { timeout: 8000 });
    const [t] = await text(page, '#journey');
    const stages = await page.$$eval('#journey ol.stg > li', (l) => l.length);
    assert(/^Journey No journey data yet\.$/.test(t) || stages === 6, 'the view: no data yet, or the six stages', t);
    assert(/s1/.test(await page.textContent('#surveys')), 'the survey card is there');
    assert(log.errors.length === 0 && log.console.length === 0, 'no page or console error', log);
    return { stages, text: t.slice(0, 120) };
  });
}, { crashKey: '_main', crashCode: 1 });
