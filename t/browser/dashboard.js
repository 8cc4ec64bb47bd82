#!/usr/bin/env node
/* Real-browser checks of the dashboard's alerts view (issue 14), driven by
 * t/81-dashboard-alerts.t.
 *
 *   node t/browser/dashboard.js BASE_URL ARTIFACT_DIR
 *
 * BASE_URL is an nginx started by the .t file with the dashboard at /cx-admin/ and two
 * open alerts of the rule "unhappy" (its notify target a closed port, so they stay open):
 * the older one with the comment `<img src=x onerror=alert(1)>`, the newer one with
 * "Checkout was slow".  The checks run in order on one page, as a person would: see the
 * alerts, acknowledge one with the keyboard, resolve it with the mouse, see an error when
 * the server refuses, filter by status; then axe-core on the view, and the page at phone
 * width.  Screenshots: dashboard-alerts-1280.png (before), dashboard-alerts-done.png
 * (after), dashboard-alerts-375.png (phone).
 *
 * Prints ONE line of JSON on stdout: {"ok":bool,"ms":N,"checks":{NAME:{"ok":bool,
 * "error":"...", ...details}}}. Exit 0 when all checks pass, 1 when some fail, 2 when the
 * browser could not be started, 3 on the global watchdog.  Every wait is bounded. */
'use strict';

const path = require('path');
const { harness, assert, withTimeout, AXE } = require('./lib');

const H = harness('dashboard.js', { checkTimeout: 30000, globalTimeout: 180000 });
const { BASE, ART } = H;
const DASH = `${BASE}/cx-admin/`;
const XSS = '<img src=x onerror=alert(1)>';

/* alerts.json as the server has it now (outside the browser) */
async function server() {
  const r = await withTimeout(fetch(`${DASH}alerts.json`), 5000, 'alerts.json');
  assert(r.status === 200, `alerts.json: HTTP ${r.status}`);
  return (await r.json()).alerts;
}

async function open(viewport) {
  const ctx = await H.browser.newContext({ viewport, locale: 'en-US', reducedMotion: 'reduce' });
  ctx.setDefaultTimeout(8000);
  const page = await ctx.newPage();
  const log = { console: [], errors: [], dialogs: [], posts: [] };
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.console.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('dialog', (d) => { log.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on('request', (r) => { if (r.method() === 'POST') log.posts.push(new URL(r.url()).pathname); });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const resp = await page.goto(DASH, { waitUntil: 'load' });
  assert(resp && resp.status() === 200, `GET /cx-admin/: ${resp && resp.status()}`);
  await page.waitForSelector('#alerts ol.al li', { timeout: 8000 });
  return { ctx, page, log };
}

/* the <li> of an alert, and its parts */
const li = (id) => `#alerts li[data-id="${id}"]`;
const badge = (page, id) => page.textContent(`${li(id)} .sb`);

let P;            /* the desktop page */
let LOG;
let HOSTILE;      /* the alert with the hostile comment */
let OTHER;        /* the other one */

H.run(async () => {
  await H.check('shown', async () => {
    const list = await server();
    HOSTILE = list.find((a) => a.comment === XSS);
    OTHER = list.find((a) => a.comment !== XSS);
    assert(HOSTILE && OTHER && list.length === 2, 'two alerts on the server', list);
    ({ page: P, log: LOG } = await open({ width: 1280, height: 900 }));
    const count = (await P.textContent('#acount')).trim();
    assert(count === '2 open alerts', `the count at the top: "${count}"`);
    const pressed = await P.textContent('#alerts .tabs button[aria-pressed="true"]');
    assert(pressed === 'Needs action (2)', `the filter chosen: "${pressed}"`);
    const ids = await P.$$eval('#alerts li', (l) => l.map((x) => x.getAttribute('data-id')));
    assert(ids.join() === [OTHER.id, HOSTILE.id].join(), 'both, newest first', ids);
    const t = (await P.textContent(li(HOSTILE.id))).replace(/\s+/g, ' ');
    for (const want of ['Open', 'unhappy', 'Created ', 'Response: s1 at checkout', 'score 2 out of 10 (detractor)', XSS,
      'Delivery: notification not sent.', 'Acknowledge', 'Resolve']) {
      assert(t.includes(want), `the item says "${want}"`, t);
    }
    assert(await P.$$eval('#alerts img', (x) => x.length) === 0, 'the hostile comment made no <img>');
    assert(LOG.dialogs.length === 0, 'no alert() ran', LOG.dialogs);
    await P.screenshot({ path: path.join(ART, 'dashboard-alerts-1280.png'), fullPage: true });
    return { count, ids };
  });

  await H.check('keyboard_acknowledge', async () => {
    assert(P, 'no page');
    /* from the section's heading, Tab to the hostile alert's Acknowledge button */
    await P.focus('#ah');
    let tabs = 0;
    let at = null;
    while (tabs < 30) {
      await P.keyboard.press('Tab');
      tabs++;
      at = await P.evaluate(() => {
        const a = document.activeElement;
        const item = a && a.closest('li');
        return { text: a ? a.textContent.trim() : '', id: item ? item.getAttribute('data-id') : null,
          outline: a ? getComputedStyle(a).outlineStyle : '', visible: a ? a.matches(':focus-visible') : false };
      });
      if (at.text === 'Acknowledge' && at.id === HOSTILE.id) break;
    }
    assert(at.text === 'Acknowledge' && at.id === HOSTILE.id, `reached the Acknowledge button by Tab (${tabs} presses)`, at);
    assert(at.visible && at.outline === 'solid', 'the focus is visible', at);
    await P.keyboard.press('Enter');
    await P.waitForFunction((id) => {
      const b = document.querySelector(`#alerts li[data-id="${id}"] .sb`);
      return b && b.textContent === 'Acknowledged';
    }, HOSTILE.id, { timeout: 8000 });
    const s = (await server()).find((a) => a.id === HOSTILE.id);
    assert(s.status === 'acknowledged' && s.state === 'acknowledged' && s.acknowledged_at,
      'alerts.json: acknowledged, with its time', s);
    assert(LOG.posts.join() === `/cx-admin/alerts/${HOSTILE.id}/ack`, 'one POST, to alerts/ID/ack', LOG.posts);
    const focus = await P.evaluate(() => ({ text: document.activeElement.textContent, id: document.activeElement.closest('li') &&
      document.activeElement.closest('li').getAttribute('data-id') }));
    assert(focus.text === 'Resolve' && focus.id === HOSTILE.id, 'the focus moves to its Resolve button', focus);
    const said = await P.textContent('#astat');
    assert(said === 'Alert unhappy acknowledged.', `announced: "${said}"`);
    const count = (await P.textContent('#acount')).trim();
    assert(count === '1 open alert', `the count at the top: "${count}"`);
    const buttons = await P.$$eval(`${li(HOSTILE.id)} button`, (b) => b.map((x) => x.textContent));
    assert(buttons.join() === 'Resolve', 'no Acknowledge button any more', buttons);
    return { tabs, acknowledged_at: s.acknowledged_at };
  });

  await H.check('resolve', async () => {
    assert(P && HOSTILE, 'no page');
    await P.click(`${li(HOSTILE.id)} button:text-is("Resolve")`);
    await P.waitForFunction((id) => {
      const b = document.querySelector(`#alerts li[data-id="${id}"] .sb`);
      return b && b.textContent === 'Resolved';
    }, HOSTILE.id, { timeout: 8000 });
    const s = (await server()).find((a) => a.id === HOSTILE.id);
    assert(s.status === 'resolved' && s.resolved_at && s.acknowledged_at, 'alerts.json: resolved, with both times', s);
    const t = (await P.textContent(li(HOSTILE.id))).replace(/\s+/g, ' ');
    assert(/acknowledged \d{4}-\d\d-\d\d \d\d:\d\d UTC \u00b7 resolved \d{4}-\d\d-\d\d/.test(t), 'its times shown', t);
    assert(await P.$$eval(`${li(HOSTILE.id)} button`, (b) => b.length) === 0, 'no button on a resolved alert');
    assert(LOG.posts[1] === `/cx-admin/alerts/${HOSTILE.id}/resolve`, 'POST alerts/ID/resolve', LOG.posts);
    return { resolved_at: s.resolved_at };
  });

  await H.check('error_shown', async () => {
    assert(P && OTHER, 'no page');
    /* the server refuses (as a store that is unavailable would) */
    await P.route('**/cx-admin/alerts/*/ack', (r) => r.fulfill({ status: 503, contentType: 'application/json', body: '{"error":"store unavailable"}' }));
    await P.click(`${li(OTHER.id)} button:text-is("Acknowledge")`);
    await P.waitForFunction((id) => {
      const e = document.querySelector(`#alerts li[data-id="${id}"] .aerr`);
      return e && e.textContent;
    }, OTHER.id, { timeout: 8000 });
    const err = await P.textContent(`${li(OTHER.id)} .aerr`);
    await P.unroute('**/cx-admin/alerts/*/ack');
    assert(/^Could not acknowledge this alert: the server answered HTTP 503\b/.test(err), `the error: "${err}"`);
    assert(await P.getAttribute(`${li(OTHER.id)} .aerr`, 'role') === 'alert', 'said to screen readers (role=alert)');
    assert(await P.isEnabled(`${li(OTHER.id)} button:text-is("Acknowledge")`), 'the button can be pressed again');
    assert(await badge(P, OTHER.id) === 'Open', 'still open on the page');
    const s = (await server()).find((a) => a.id === OTHER.id);
    assert(s.status === 'open', 'still open on the server', s);
    return { error: err };
  });

  await H.check('filter', async () => {
    assert(P, 'no page');
    await P.click('#alerts .tabs button:has-text("Resolved")');
    let ids = await P.$$eval('#alerts li', (l) => l.map((x) => x.getAttribute('data-id')));
    assert(ids.join() === HOSTILE.id, 'Resolved: only the resolved one', ids);
    assert(await P.getAttribute('#alerts .tabs button:has-text("Resolved")', 'aria-pressed') === 'true', 'aria-pressed');
    await P.click('#alerts .tabs button:has-text("Needs action")');
    ids = await P.$$eval('#alerts li', (l) => l.map((x) => x.getAttribute('data-id')));
    assert(ids.join() === OTHER.id, 'Needs action: only the open one', ids);
    await P.click('#alerts .tabs button:has-text("All")');
    const tabs = await P.$$eval('#alerts .tabs button', (b) => b.map((x) => x.textContent));
    assert(tabs.join('|') === 'Needs action (1)|Open (1)|Escalated (0)|Acknowledged (0)|Failed (0)|Resolved (1)|All (2)',
      'the counts per status', tabs);
    await P.screenshot({ path: path.join(ART, 'dashboard-alerts-done.png'), fullPage: true });
    return { tabs };
  });

  await H.check('axe', async () => {
    assert(P, 'no page');
    await P.addScriptTag({ path: AXE });
    const v = await P.evaluate(async () => {
      const r = await window.axe.run({ include: [['#alerts'], ['header']] }, { resultTypes: ['violations'] });
      return r.violations.map((x) => ({ id: x.id, impact: x.impact, nodes: x.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
    });
    assert(v.length === 0, 'no axe violations in the alerts view and the header', v);
    return { violations: 0 };
  });

  await H.check('clean', async () => {
    assert(P, 'no page');
    const csp = await P.evaluate(() => window.__csp);
    assert(csp.length === 0, 'no CSP violation', csp);
    assert(LOG.errors.length === 0, 'no page error', LOG.errors);
    assert(LOG.dialogs.length === 0, 'no dialog (no script from the data ran)', LOG.dialogs);
    /* the 503 of error_shown is logged by chromium as a failed resource: that one only */
    const other = LOG.console.filter((m) => !/status of 503/.test(m));
    assert(other.length === 0, 'no console error', LOG.console);
    return { console: LOG.console };
  });

  await H.check('phone', async () => {
    const { ctx, page } = await open({ width: 375, height: 812 });
    try {
      const w = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, win: window.innerWidth }));
      assert(w.doc <= w.win, 'no sideways scrolling at 375 px', w);
      const box = await page.locator(`${li(OTHER.id)} button:text-is("Acknowledge")`).boundingBox();
      assert(box && box.height >= 40 && box.x >= 0 && box.x + box.width <= 375, 'the button fits and is big enough to tap', box);
      await page.screenshot({ path: path.join(ART, 'dashboard-alerts-375.png'), fullPage: true });
      return { width: w, button: box };
    } finally {
      await ctx.close().catch(() => {});
    }
  });
}, { crashKey: '_main', crashCode: 1 });
