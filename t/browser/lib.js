/* What the real-browser scripts (widget.js, dashboard.js) share: their command line,
 * the one line of JSON they print, bounded waits, the checks, and Chromium.
 *
 *   const H = harness('widget.js', { checkTimeout: 30000, globalTimeout: 240000 });
 *   H.BASE H.ART          the command line: BASE_URL (no trailing /) ARTIFACT_DIR (made)
 *   H.browser             the browser, once H.run has started it
 *   await H.check(NAME, async (track) => { ...; return details; })
 *                         runs one check, bounded; its result (ok, error, got, ms, the
 *                         details) goes to NAME in the JSON; a context given to track()
 *                         is closed after the check
 *   H.run(async () => { await H.check(...); ... }, { crashKey, crashCode })
 *                         starts Chromium (exit 2 when it cannot), runs the checks, closes
 *                         the browser and prints the JSON: exit 0 when all pass, 1 when
 *                         some fail; a crash is recorded as crashKey and exits crashCode
 * A global watchdog prints what there is and exits 3.
 * assert(cond, msg, extra), fail(msg, extra): throw, extra goes to the check's "got";
 * withTimeout(promise, ms, what); sleep(ms); AXE, the path of axe.min.js. */
'use strict';

const fs = require('fs');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CX_CHROMIUM || '/usr/bin/chromium';
const AXE = require.resolve('axe-core/axe.min.js');

function fail(msg, extra) {
  const e = new Error(msg);
  e.extra = extra;
  throw e;
}

function assert(cond, msg, extra) {
  if (!cond) fail(msg, extra);
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timeout ${ms} ms`)), ms); })
  ]).finally(() => clearTimeout(t));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function harness(script, { checkTimeout, globalTimeout }) {
  const T0 = Date.now();
  const H = {
    BASE: (process.argv[2] || '').replace(/\/+$/, ''),
    ART: process.argv[3],
    browser: undefined
  };
  if (!H.BASE || !H.ART) {
    process.stderr.write(`usage: node ${script} BASE_URL ARTIFACT_DIR\n`);
    process.exit(2);
  }
  fs.mkdirSync(H.ART, { recursive: true });

  const results = {};
  let printed = false;

  function finish(code) {
    if (!printed) {
      printed = true;
      const ok = Object.keys(results).length > 0 && Object.values(results).every((r) => r.ok);
      process.stdout.write(JSON.stringify({ ok, ms: Date.now() - T0, checks: results }) + '\n');
      if (code === undefined) code = ok ? 0 : 1;
    }
    process.exit(code);
  }

  /* the global watchdog: report what we have, kill the browser, leave */
  setTimeout(() => {
    results._watchdog = { ok: false, error: `global timeout ${globalTimeout} ms` };
    try { if (H.browser) H.browser.close().catch(() => {}); } catch (e) { /* ignore */ }
    setTimeout(() => finish(3), 2000);
  }, globalTimeout);

  H.check = async (name, fn) => {
    const t = Date.now();
    let ctx;
    const track = (c) => { ctx = c; };
    try {
      const details = await withTimeout(fn(track), checkTimeout, name);
      results[name] = Object.assign({ ok: true }, details || {});
    } catch (e) {
      results[name] = { ok: false, error: String((e && e.message) || e) };
      if (e && e.extra !== undefined) results[name].got = e.extra;
    }
    if (ctx) await withTimeout(ctx.close(), 5000, 'context close').catch(() => {});
    results[name].ms = Date.now() - t;
  };

  H.run = (checks, { crashKey, crashCode }) => (async () => {
    try {
      H.browser = await withTimeout(chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        timeout: 30000
      }), 35000, 'launch');
    } catch (e) {
      results._launch = { ok: false, error: String((e && e.message) || e) };
      finish(2);
      return;
    }
    try {
      await checks();
    } finally {
      await withTimeout(H.browser.close(), 10000, 'browser close').catch(() => {});
    }
    finish();
  })().catch((e) => {
    results[crashKey] = { ok: false, error: String((e && e.stack) || e) };
    finish(crashCode);
  });

  return H;
}

module.exports = { harness, assert, fail, withTimeout, sleep, AXE };
