#!/usr/bin/env node
/* Real-browser checks of the dashboard's trend, comments and phone layout (issue 17: 5, 6, 8),
 * driven by t/83-dashboard-trend.t.
 *
 *   node t/browser/trend.js BASE_URL ARTIFACT_DIR
 *
 * BASE_URL is an nginx started by the .t file with the dashboard at /cx-admin/ over 70 days of
 * answers (nps1 at "purchase", csat1 at "support", most with a comment).  The checks report what
 * the page shows; the .t file compares it with what it worked out from its data:
 *
 *   trend      nps1's card at 1280 px: the unit chosen (week), the comparison with the 30 days
 *              before, the table by week, then by month and by day through the switch (mouse,
 *              then keyboard)
 *   comments   the Comments view: the first page, Older (the focus on the first new one), a
 *              search, a band, a touchpoint
 *   phone      at 390 px: no chart text under 11 px as drawn (its font size times the SVG's
 *              scale on screen), no table cell clipped (each fits its box or scrolls inside a
 *              focusable one), no sideways scrolling; screenshots
 *   resize     1280 px, then 390: the charts are drawn again at the new width
 *   invalid    ?from=2026-02-30 and ?from after to: said, nothing fetched; the same typed into
 *              the form: said, no navigation
 *   axe        axe-core on a survey card and the Comments view
 *   clean      no CSP violation, page error or console error
 *
 * Screenshots: dashboard-trend-1280.png, dashboard-trend-390.png, dashboard-comments-390.png,
 * dashboard-invalid-390.png.
 *
 * Prints ONE line of JSON on stdout: {"ok":bool,"ms":N,"checks":{NAME:{"ok":bool,
 * "error":"...", ...details}}}. Exit 0 when all checks pass, 1 when some fail, 2 when the
 * browser could not be started, 3 on the global watchdog.  Every wait is bounded. */
'use strict';

const path = require('path');
const { harness, assert, AXE } = require('./lib');

const H = harness('trend.js', { checkTimeout: 40000, globalTimeout: 240000 });
const { BASE, ART } = H;
const DASH = `${BASE}/cx-admin/`;

async function open(viewport, query, track) {
  const ctx = await H.browser.newContext({ viewport, locale: 'en-US', reducedMotion: 'reduce' });
  if (track) track(ctx);
  ctx.setDefaultTimeout(8000);
  const page = await ctx.newPage();
  const log = { console: [], errors: [], dialogs: [], json: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.console.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('dialog', (d) => { log.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('request', (r) => { const u = new URL(r.url()); if (/\.json$/.test(u.pathname)) log.json.push(u.pathname + u.search); });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const resp = await page.goto(DASH + (query || ''), { waitUntil: 'load' });
  assert(resp && resp.status() === 200, `GET ${query}: ${resp && resp.status()}`);
  await page.waitForFunction(() => !document.getElementById('out').hasAttribute('aria-busy'), null, { timeout: 8000 });
  return { ctx, page, log };
}

/* the text of an element, its text nodes joined by spaces */
const text = (page, sel) => page.$$eval(sel, (l) => l.map((x) => {
  const w = document.createTreeWalker(x, NodeFilter.SHOW_TEXT);
  const out = [];
  while (w.nextNode()) out.push(w.currentNode.textContent);
  return out.join(' ').replace(/\s+/g, ' ').trim();
}));

/* nps1's card: the first survey of nginx.conf */
const CARD = 'section[aria-labelledby="s0"]';
/* a survey card's trend: its heading, the switch, the comparison, the table's rows */
async function trendOf(page) {
  return page.evaluate((sel) => {
    const c = document.querySelector(sel);
    const h = [...c.querySelectorAll('h3')].find((x) => /^Trend by /.test(x.textContent));
    const tbl = [...c.querySelectorAll('table')].find((t) => /^Answers and score by (day|week|month)$/.test(t.caption.textContent));
    return {
      head: h.textContent,
      pressed: [...c.querySelectorAll('.tabs button[aria-pressed="true"]')].map((b) => b.textContent),
      cmp: c.querySelector('p.cmp').textContent,
      rows: [...tbl.tBodies[0].rows].map((r) => [...r.cells].map((x) => x.textContent).join(' ')),
      title: c.querySelector('svg.ch title').textContent,
      name: c.querySelector('h2').textContent
    };
  }, CARD);
}

/* what the eye sees: chart text as drawn, clipped cells, sideways scrolling */
function measure(page) {
  return page.evaluate(() => {
    const small = [];
    let min = Infinity, texts = 0;
    for (const t of document.querySelectorAll('svg text')) {
      if (!t.getClientRects().length) continue;
      const m = t.ownerSVGElement.getScreenCTM();
      const px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
      texts++;
      min = Math.min(min, px);
      if (px < 11) small.push(`${t.textContent}: ${px.toFixed(1)} px`);
    }
    /* a cell is clipped when an ancestor that hides overflow cuts it; one inside a box that
     * scrolls is reachable (the box must be focusable, for keyboards) */
    const clipped = [], scrollers = new Set();
    for (const c of document.querySelectorAll('td, th')) {
      if (!c.getClientRects().length) continue;
      const r = c.getBoundingClientRect();
      for (let a = c.parentElement; a; a = a.parentElement) {
        const o = getComputedStyle(a).overflowX;
        if (o === 'auto' || o === 'scroll') {
          scrollers.add(a);
          if (a.tabIndex < 0) clipped.push(`${c.textContent}: in a box that scrolls but cannot be focused`);
          break;
        }
        const b = a.getBoundingClientRect();
        if ((o === 'hidden' || o === 'clip') && (r.right > b.right + 0.5 || r.left < b.left - 0.5)) {
          clipped.push(`${c.textContent}: cut by ${a.tagName.toLowerCase()}.${a.className}`);
          break;
        }
        if (a === document.body && (r.right > window.innerWidth + 0.5 || r.left < -0.5)) {
          clipped.push(`${c.textContent}: off the screen (${Math.round(r.left)}..${Math.round(r.right)})`);
        }
      }
    }
    const scrolling = [...scrollers].filter((s) => s.scrollWidth > s.clientWidth).map((s) => s.getAttribute('aria-label'));
    const widths = [...document.querySelectorAll('svg.ch')].filter((s) => s.getClientRects().length)
      .map((s) => [s.viewBox.baseVal.width, Math.round(s.getBoundingClientRect().width)]);
    return { min, texts, small, clipped, scrolling, widths, doc: document.documentElement.scrollWidth, win: window.innerWidth };
  });
}

let P;
let LOG;

H.run(async () => {
  await H.check('trend', async () => {
    ({ page: P, log: LOG } = await open({ width: 1280, height: 900 }));
    await P.waitForFunction((sel) => {
      const c = document.querySelector('p.cmp');
      return c && !/^Comparing/.test(c.textContent);
    }, CARD, { timeout: 8000 });
    const auto = await trendOf(P);
    await P.locator(CARD).screenshot({ path: path.join(ART, 'dashboard-trend-1280.png') });
    await P.click(`${CARD} .tabs button:text-is("Month")`);
    const month = await trendOf(P);
    /* the keyboard: Tab from Month to Day is two presses back; Enter presses it */
    await P.focus(`${CARD} .tabs button:text-is("Month")`);
    await P.keyboard.press('Shift+Tab');
    await P.keyboard.press('Shift+Tab');
    const focused = await P.evaluate(() => document.activeElement.textContent);
    assert(focused === 'Day', `Shift+Tab twice reaches Day: "${focused}"`);
    await P.keyboard.press('Enter');
    const day = await trendOf(P);
    await P.click(`${CARD} .tabs button:text-is("Week (auto)")`);
    const week = await trendOf(P);
    assert(JSON.stringify(week) === JSON.stringify(auto), 'back to the week: as it was', { week, auto });
    return { auto, month, day };
  });

  await H.check('comments', async () => {
    assert(P, 'no page');
    const list = () => text(P, '#cm-list li');
    await P.waitForFunction(() => /shown|No comments/.test(document.getElementById('cm-stat').textContent), null, { timeout: 8000 });
    const first = await list();
    const stat1 = await P.textContent('#cm-stat');
    assert(await P.isVisible('#cm-more'), 'Older comments: shown');
    await P.click('#cm-more');
    await P.waitForFunction((n) => document.querySelectorAll('#cm-list li').length > n, first.length, { timeout: 8000 });
    const all = await list();
    const focus = await P.evaluate(() => [...document.querySelectorAll('#cm-list li')].indexOf(document.activeElement));
    const stat2 = await P.textContent('#cm-stat');
    const more = await P.isVisible('#cm-more');
    /* a search, typed; then a band; then a touchpoint */
    const run = async () => {
      const before = LOG.json.length;
      await P.click('#comments button[type=submit]');
      await P.waitForFunction((n) => !/Loading/.test(document.getElementById('cm-stat').textContent), null, { timeout: 8000 });
      return { list: await list(), stat: await P.textContent('#cm-stat'), asked: LOG.json.slice(before) };
    };
    await P.fill('#cm-q', 'KETTLE');
    const search = await run();
    await P.fill('#cm-q', '');
    await P.selectOption('#cm-band', 'detractor');
    const band = await run();
    await P.selectOption('#cm-band', '');
    await P.selectOption('#cm-tp', 'support');
    const tp = await run();
    await P.selectOption('#cm-tp', '');
    await P.fill('#cm-q', 'no such words');
    const none = await run();
    return { first, stat1, all, focus, stat2, more, search, band, tp, none };
  });

  await H.check('phone', async (track) => {
    /* with the segments by language (issue 17.7): their tables are measured too */
    const { page } = await open({ width: 390, height: 844 }, '?by=lang', track);
    await page.waitForSelector(`${CARD} svg.ch`, { timeout: 8000 });
    await page.waitForSelector('#sg-out table', { timeout: 8000 });
    /* the tables in <details> too */
    await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
    const m = await measure(page);
    assert(m.texts > 20, 'chart text measured', m);
    assert(m.small.length === 0, 'no chart text under 11 px on the screen', m.small);
    assert(m.clipped.length === 0, 'no table cell clipped', m.clipped);
    assert(m.doc <= m.win, 'no sideways scrolling at 390 px', { doc: m.doc, win: m.win });
    assert(m.widths.every((w) => Math.abs(w[0] - w[1]) <= 1), 'each chart drawn at its width (one unit a pixel)', m.widths);
    await page.locator(CARD).screenshot({ path: path.join(ART, 'dashboard-trend-390.png') });
    await page.waitForFunction(() => /shown/.test(document.getElementById('cm-stat').textContent), null, { timeout: 8000 });
    await page.locator('#comments').screenshot({ path: path.join(ART, 'dashboard-comments-390.png') });
    await page.locator('#segments').screenshot({ path: path.join(ART, 'dashboard-segments-390.png') });
    return { min_font_px: +m.min.toFixed(2), texts: m.texts, scrolling: m.scrolling, widths: m.widths.slice(0, 4),
      segment_tables: await page.locator('#sg-out table').count() };
  });

  await H.check('resize', async (track) => {
    const { page } = await open({ width: 1280, height: 900 }, '', track);
    await page.waitForSelector(`${CARD} svg.ch`, { timeout: 8000 });
    const wide = await measure(page);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => [...document.querySelectorAll('svg.ch')].every((s) => s.viewBox.baseVal.width < 400), null, { timeout: 8000 });
    const narrow = await measure(page);
    assert(narrow.small.length === 0, 'no chart text under 11 px after the resize', narrow.small);
    assert(narrow.widths.every((w) => Math.abs(w[0] - w[1]) <= 1), 'drawn again at the new width', narrow.widths);
    return { wide: wide.widths[0], narrow: narrow.widths[0], min_font_px: +narrow.min.toFixed(2) };
  });

  await H.check('invalid', async (track) => {
    const out = {};
    for (const [name, q] of [['bad_date', '?from=2026-02-30'], ['from_after_to', '?from=2026-11-25&to=2026-11-24']]) {
      const { ctx, page, log } = await open({ width: 390, height: 844 }, q);
      try {
        out[name] = { status: (await text(page, '#status'))[0], ferr: await page.textContent('#ferr'),
          invalid: await page.getAttribute('#f-from', 'aria-invalid'), fetched: log.json.slice() };
        if (name === 'bad_date') await page.screenshot({ path: path.join(ART, 'dashboard-invalid-390.png'), fullPage: true });
      } finally {
        await ctx.close().catch(() => {});
      }
    }
    /* typed into the form: said, and the page stays */
    const { page } = await open({ width: 1280, height: 900 }, '', track);
    await page.fill('#f-from', '2026-11-25');
    await page.fill('#f-to', '2026-11-24');
    const url = page.url();
    await page.click('#f button[type=submit]');
    await page.waitForFunction(() => document.getElementById('ferr').textContent, null, { timeout: 8000 });
    out.typed = { ferr: await page.textContent('#ferr'), stayed: page.url() === url,
      focus: await page.evaluate(() => document.activeElement.id) };
    return out;
  });

  await H.check('axe', async () => {
    assert(P, 'no page');
    await P.addScriptTag({ path: AXE });
    const v = await P.evaluate(async (sel) => {
      document.querySelectorAll(`${sel} details`).forEach((d) => { d.open = true; });
      const r = await window.axe.run({ include: [[sel], ['#comments'], ['#f']] }, { resultTypes: ['violations'] });
      return r.violations.map((x) => ({ id: x.id, impact: x.impact, nodes: x.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
    }, CARD);
    assert(v.length === 0, 'no axe violations in a survey card, the Comments view and the filters', v);
    return { violations: 0 };
  });

  await H.check('clean', async () => {
    assert(P, 'no page');
    const csp = await P.evaluate(() => window.__csp);
    assert(csp.length === 0, 'no CSP violation', csp);
    assert(LOG.errors.length === 0, 'no page error', LOG.errors);
    assert(LOG.dialogs.length === 0, 'no dialog (no script from the data ran)', LOG.dialogs);
    assert(LOG.console.length === 0, 'no console error', LOG.console);
    return { requests: LOG.json.length };
  });
}, { crashKey: '_main', crashCode: 1 });
