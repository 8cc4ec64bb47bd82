#!/usr/bin/env node
/* Real-browser checks of the survey widget (/cx/w.js), driven by t/80-widget-browser.t.
 *
 *   node t/browser/widget.js BASE_URL ARTIFACT_DIR
 *
 * BASE_URL is an nginx started by the .t file with the locations below (each its own
 * survey, so report.json counts of one check are not disturbed by another):
 *   /mouse/      survey nps_mouse   /kbd/     nps_kbd     /esc/   nps_esc
 *   /lang/       nps_lang (question tr)                    /axe/   nps_axe
 *   /host/       nps_host (page has `button{background:red !important}`)
 *   /csp-self/ /csp-nonce/ /csp-style/   survey nps_csp, each with its own CSP header
 *   /langs/      nps_langs (question + followup in en tr nb de fr es)
 *   /rtl/        nps_rtl (question ar)      /focus/ nps_focus (delay=500ms, page has input#inp)
 *   /live/ nps_live   /media/ nps_media   /own/ nps_own   /reuse/ nps_reuse (+ /plain.html)
 *   /trig-exit/ /trig-scroll/ (3000 px tall) /trig-idle/: trigger=exit, scroll:50%, idle:1s
 *   /looks/      nps_looks (position bottom-left, color 0b6e4f)
 *   /spa/        a single-page app: w.js in the shell, cx.touch('spa_orders') on a route
 *                change to /spa/orders/42 (touchpoint spa_orders: nps_spa)
 * Every check runs in a fresh browser context (fresh cookies = a new visitor).
 *
 * Prints ONE line of JSON on stdout: {"ok":bool,"ms":N,"checks":{NAME:{"ok":bool,
 * "error":"...", ...details}}}. Exit 0 when all checks pass, 1 when some fail,
 * 2 when the browser could not be started, 3 on the global watchdog.
 * Every wait is bounded; the browser is always closed. */
'use strict';

const fs = require('fs');
const path = require('path');
const { harness, assert, withTimeout, sleep, AXE } = require('./lib');

const H = harness('widget.js', { checkTimeout: 30000 /* per check */, globalTimeout: 240000 /* whole run */ });
const { BASE, ART } = H;

async function report(survey) {
  const r = await withTimeout(fetch(`${BASE}/cx-admin/report.json?survey=${survey}`), 5000, 'report.json');
  assert(r.status === 200, `report.json status ${r.status}`);
  const j = await r.json();
  const s = (j.surveys || []).find((x) => x.name === survey);
  assert(s, `survey ${survey} not in report.json`, j);
  return s;
}

/* polls report.json until pred(survey) is true; bounded */
async function reportUntil(survey, pred, ms = 6000) {
  const end = Date.now() + ms;
  let s;
  for (;;) {
    s = await report(survey);
    if (pred(s)) return s;
    if (Date.now() > end) return s;
    await sleep(150);
  }
}

function brief(s) {
  return {
    displayed: s.displayed, answered: s.answered, dismissed: s.dismissed, score: s.score,
    distribution: s.distribution, comments: (s.comments || []).map((c) => ({ score: c.score, comment: c.comment }))
  };
}

/* a fresh context (new visitor) and page that records console, errors, CSP reports */
async function open(urlPath, opts = {}) {
  const ctx = await H.browser.newContext({
    viewport: opts.viewport || { width: 1280, height: 800 },
    hasTouch: !!opts.touch, isMobile: !!opts.touch,
    locale: opts.locale || 'en-US',
    extraHTTPHeaders: opts.headers || {},
    reducedMotion: 'reduce'
  });
  ctx.setDefaultTimeout(8000);
  ctx.setDefaultNavigationTimeout(10000);
  const page = await ctx.newPage();
  const log = { console: [], errors: [], csp: [], requests: [] };
  const all = [];
  page.on('request', (r) => all.push({ method: r.method(), url: r.url(), type: r.resourceType() }));
  if (opts.media) await page.emulateMedia(opts.media);
  page.on('console', (m) => log.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.errors.push(String(e)));
  page.on('request', (r) => { if (r.url().includes('/cx/')) log.requests.push(`${r.method()} ${new URL(r.url()).pathname}`); });
  await page.addInitScript(() => {
    window.__cxCsp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cxCsp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  if (opts.init) await page.addInitScript(opts.init);
  const resp = await page.goto(BASE + urlPath, { waitUntil: 'load' });
  return { ctx, page, log, resp, all };
}

/* the card inside the widget's open shadow root (playwright css pierces it) */
const CARD = 'cx-survey >> div.c';

async function waitCard(page, ms = 5000) {
  await page.waitForSelector(CARD, { state: 'visible', timeout: ms });
}

/* the focused element, through shadow roots */
function focused(page) {
  return page.evaluate(() => {
    let a = document.activeElement;
    while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    if (!a) return null;
    return {
      tag: a.tagName.toLowerCase(), role: a.getAttribute('role'), text: (a.textContent || '').trim(),
      inWidget: a.getRootNode() !== document
    };
  });
}

/* (1) the full answer path with the mouse */
async function mouse(track) {
  const { ctx, page, log } = await open('/mouse/');
  track(ctx);
  const t0 = Date.now();
  /* delay=200ms: not there at once */
  const early = await page.$(CARD);
  await waitCard(page);
  const appeared = Date.now() - t0;
  await page.click('cx-survey >> button[role=radio]:text-is("9")');
  const ta = page.locator('cx-survey >> textarea');
  await ta.waitFor({ state: 'visible', timeout: 3000 });
  const label = await page.locator('cx-survey >> label').textContent();
  await ta.click();
  await page.keyboard.type('Mouse comment ok');
  await page.click('cx-survey >> button:text-is("Send")');
  await page.locator('cx-survey >> p.t').waitFor({ state: 'visible', timeout: 3000 });
  const thanks = (await page.locator('cx-survey >> p.t').textContent()).trim();
  const s = await reportUntil('nps_mouse', (s) => s.answered === 1 && (s.comments || []).length === 1);
  const got = { appeared_after_ms: appeared, early_card: !!early, label, thanks, report: brief(s), log };
  assert(label === 'Why?', `follow-up label "${label}"`, got);
  assert(thanks === 'Thank you!', `thanks text "${thanks}"`, got);
  assert(s.displayed === 1, `displayed ${s.displayed} != 1`, got);
  assert(s.answered === 1, `answered ${s.answered} != 1`, got);
  assert(s.distribution && s.distribution[9] === 1, 'distribution[9] != 1', got);
  assert(s.score === 100, `nps score ${s.score} != 100`, got);
  assert(s.comments.length === 1 && s.comments[0].comment === 'Mouse comment ok' && s.comments[0].score === 9,
    'comment not stored as {score 9, "Mouse comment ok"}', got);
  assert(log.errors.length === 0, 'page errors', got);
  return { appeared_after_ms: appeared, report: brief(s) };
}

/* (2) keyboard only */
async function keyboard(track) {
  const { ctx, page, log } = await open('/kbd/');
  track(ctx);
  await waitCard(page);
  const trail = [];
  let f;
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    f = await focused(page);
    trail.push(f);
    if (f && f.role === 'radio') break;
  }
  assert(f && f.role === 'radio' && f.text === '0', 'Tab did not reach the first radio "0"', trail);
  for (let i = 0; i < 9; i++) await page.keyboard.press('ArrowRight');
  f = await focused(page);
  assert(f && f.role === 'radio' && f.text === '9', 'ArrowRight x9 did not move focus to "9"', f);
  const stillNone = await page.locator('cx-survey >> [aria-checked=true]').count();
  assert(stillNone === 0, 'arrows picked a score (must only move)', stillNone);
  await page.keyboard.press('Enter');
  await page.locator('cx-survey >> textarea').waitFor({ state: 'visible', timeout: 3000 });
  for (let i = 0; i < 4; i++) {
    f = await focused(page);
    if (f && f.tag === 'textarea') break;
    await page.keyboard.press('Tab');
  }
  assert(f && f.tag === 'textarea', 'focus not in the textarea', f);
  await page.keyboard.type('Keyboard comment');
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press('Tab');
    f = await focused(page);
    if (f && f.text === 'Send') break;
  }
  assert(f && f.tag === 'button' && f.text === 'Send', 'Tab did not reach Send', f);
  await page.keyboard.press('Enter');
  await page.locator('cx-survey >> p.t').waitFor({ state: 'visible', timeout: 3000 });
  f = await focused(page);
  const s = await reportUntil('nps_kbd', (s) => s.answered === 1 && (s.comments || []).length === 1);
  const got = { report: brief(s), focus_after_send: f, log };
  assert(s.answered === 1 && s.distribution[9] === 1, 'answer 9 not stored', got);
  assert(s.comments.length === 1 && s.comments[0].comment === 'Keyboard comment', 'comment not stored', got);
  return { report: brief(s), focus_after_send: f };
}

/* (3) Esc dismisses */
async function escape(track) {
  const { ctx, page, log } = await open('/esc/');
  track(ctx);
  await waitCard(page);
  await page.keyboard.press('Tab');
  const f = await focused(page);
  assert(f && f.inWidget, 'Tab did not move focus into the widget', f);
  await page.keyboard.press('Escape');
  await page.waitForSelector('cx-survey', { state: 'detached', timeout: 3000 });
  const s = await reportUntil('nps_esc', (s) => s.dismissed === 1);
  const got = { report: brief(s), log };
  assert(s.dismissed === 1, `dismissed ${s.dismissed} != 1`, got);
  assert(s.answered === 0, `answered ${s.answered} != 0`, got);
  return { report: brief(s) };
}

/* (4) Accept-Language: tr */
async function language(track) {
  const { ctx, page, log } = await open('/lang/', { locale: 'tr-TR', headers: { 'Accept-Language': 'tr' } });
  track(ctx);
  await waitCard(page);
  const q = (await page.locator('cx-survey >> #q').textContent()).trim();
  const lang = await page.locator(CARD).getAttribute('lang');
  const got = { question: q, lang, log };
  assert(q === 'Bizi tavsiye eder misiniz?', `question "${q}"`, got);
  assert(lang === 'tr', `card lang="${lang}"`, got);
  return { question: q, lang };
}

/* (5) CSP variants */
async function csp(track, urlPath, expectNonce) {
  const { ctx, page, log, resp } = await open(urlPath);
  track(ctx);
  const header = resp.headers()['content-security-policy'];
  const tags = await page.evaluate(() => [...document.querySelectorAll('script')].map((s) => ({
    id: s.id, src: s.getAttribute('src'), nonce: s.nonce || s.getAttribute('nonce') || ''
  })));
  let rendered = true;
  try { await waitCard(page); } catch (e) { rendered = false; }
  await sleep(300);
  const violations = await page.evaluate(() => window.__cxCsp || []);
  const cspConsole = log.console.filter((m) => /Content Security Policy/i.test(m));
  const got = { header, tags, rendered, csp_console: cspConsole, csp_events: violations, errors: log.errors };
  assert(rendered, 'widget did not render', got);
  if (expectNonce) assert(tags.some((t) => t.src === '/cx/w.js' && t.nonce === 'abc'), 'w.js tag without nonce abc', got);
  assert(cspConsole.length === 0 && violations.length === 0, 'CSP violations reported', got);
  return { header, csp_console: cspConsole };
}

/* (6) axe-core: the asking state, then (separately) the follow-up state */
async function axeRun(page) {
  await page.addScriptTag({ path: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, summary: (n.failureSummary || '').slice(0, 300) }))
    }));
  });
}

function axeVerdict(violations) {
  const inWidget = (v) => v.nodes.some((n) => JSON.stringify(n.target).includes('cx-survey'));
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `serious/critical violations: ${bad.map((v) => v.id).join(', ')}`, violations);
  return { violations: violations.map((v) => `${v.id}(${v.impact})${inWidget(v) ? ' in widget' : ' page'}`) };
}

async function axe(track) {
  const { ctx, page } = await open('/axe/');
  track(ctx);
  await waitCard(page);
  await sleep(400);    /* live text set; the entry animation is off (reduced motion) */
  return axeVerdict(await axeRun(page));
}

async function axeFollowup(track) {
  const { ctx, page } = await open('/axe/');
  track(ctx);
  await waitCard(page);
  await page.click('cx-survey >> button[role=radio]:text-is("3")');
  await page.locator('cx-survey >> textarea').waitFor({ state: 'visible', timeout: 3000 });
  await sleep(300);
  return axeVerdict(await axeRun(page));
}

function pngInfo(file) {
  const b = fs.readFileSync(file);
  const sig = b.slice(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return { file, bytes: b.length, png: sig, width: sig ? b.readUInt32BE(16) : 0, height: sig ? b.readUInt32BE(20) : 0 };
}

/* (7) screenshots */
async function screenshots(track) {
  const out = [];
  for (const [w, h] of [[1280, 800], [375, 667]]) {
    const { ctx, page } = await open('/mouse/?shot', { viewport: { width: w, height: h } });
    track(ctx);
    await waitCard(page);
    await sleep(300);
    const file = path.join(ART, `widget-${w}x${h}.png`);
    await page.screenshot({ path: file });
    const box = await page.locator(CARD).boundingBox();
    const info = Object.assign(pngInfo(file), { card: box });
    out.push(info);
    await ctx.close();
    assert(info.png && info.bytes > 1000 && info.width === w && info.height === h, `bad screenshot ${file}`, info);
    assert(box && box.x >= 0 && box.y >= 0 && box.x + box.width <= w + 0.5 && box.y + box.height <= h + 0.5,
      `card not inside the ${w}x${h} viewport`, info);
  }
  return { files: out };
}

/* (8) the host page is unchanged */
async function hostPage(track) {
  const { ctx, page } = await open('/host/');
  track(ctx);
  const before = await page.locator('#hostbox').boundingBox();
  const docBefore = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
  await waitCard(page);
  await sleep(300);
  const after = await page.locator('#hostbox').boundingBox();
  const docAfter = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
  const styles = await page.evaluate(() => {
    const sr = document.querySelector('cx-survey').shadowRoot;
    const cs = (e) => { const s = getComputedStyle(e); return { bg: s.backgroundColor, color: s.color, font: s.fontSize }; };
    return {
      page_button: cs(document.getElementById('pagebtn')),
      radio: cs(sr.querySelector('[role=radio]')),
      close: cs(sr.querySelector('button.x'))
    };
  });
  const got = { before, after, docBefore, docAfter, styles };
  assert(JSON.stringify(before) === JSON.stringify(after), 'host element moved', got);
  assert(JSON.stringify(docBefore) === JSON.stringify(docAfter), 'document size changed', got);
  assert(styles.page_button.bg === 'rgb(255, 0, 0)', 'page CSS not applied to the page button (test page broken)', got);
  assert(styles.radio.bg !== 'rgb(255, 0, 0)' && styles.close.bg !== 'rgb(255, 0, 0)', 'page CSS leaked into widget buttons', got);
  return got;
}

/* (9) the survey's question/follow-up and the widget's own words in each language */
const LANGS = {
  en: { locale: 'en-US', q: 'How likely?', f: 'Why?', close: 'Close', send: 'Send', skip: 'Skip' },
  tr: { locale: 'tr-TR', q: 'Bizi tavsiye eder misiniz?', f: 'Neden?', close: 'Kapat', send: 'Gönder', skip: 'Atla' },
  nb: { locale: 'nb-NO', q: 'Vil du anbefale oss?', f: 'Hvorfor?', close: 'Lukk', send: 'Send', skip: 'Hopp over' },
  de: { locale: 'de-DE', q: 'Würden Sie uns empfehlen?', f: 'Warum?', close: 'Schließen', send: 'Senden', skip: 'Überspringen' },
  fr: { locale: 'fr-FR', q: 'Nous recommanderiez-vous ?', f: 'Pourquoi ?', close: 'Fermer', send: 'Envoyer', skip: 'Passer' },
  es: { locale: 'es-ES', q: '¿Nos recomendaría?', f: '¿Por qué?', close: 'Cerrar', send: 'Enviar', skip: 'Omitir' }
};

async function languages(track) {
  const out = {};
  const bad = [];
  for (const [lang, x] of Object.entries(LANGS)) {
    const { ctx, page, log } = await open('/langs/', { locale: x.locale, headers: { 'Accept-Language': lang } });
    track(ctx);
    await waitCard(page);
    const q = (await page.locator('cx-survey >> #q').textContent()).trim();
    await page.click('cx-survey >> button[role=radio]:text-is("7")');
    await page.locator('cx-survey >> textarea').waitFor({ state: 'visible', timeout: 3000 });
    const got = await page.evaluate(() => {
      const sr = document.querySelector('cx-survey').shadowRoot;
      return {
        card_lang: sr.querySelector('.c').getAttribute('lang'),
        followup: (sr.querySelector('label') || {}).textContent,
        buttons: [...sr.querySelectorAll('.a button')].map((b) => b.textContent.trim()),
        close: sr.querySelector('button.x').getAttribute('aria-label')
      };
    });
    got.question = q;
    const want = { card_lang: lang, followup: x.f, buttons: [x.skip, x.send], close: x.close, question: x.q };
    out[lang] = got;
    if (JSON.stringify(Object.keys(want).map((k) => got[k])) !== JSON.stringify(Object.keys(want).map((k) => want[k]))) {
      bad.push({ lang, want, got, errors: log.errors });
    }
    await ctx.close();
  }
  assert(bad.length === 0, `wrong texts for ${bad.map((b) => b.lang).join(', ')}`, bad);
  return { langs: out };
}

/* (10) a right-to-left language: dir/lang on the card, the card at the left */
async function rtl(track) {
  const { ctx, page, log } = await open('/rtl/', { locale: 'ar', headers: { 'Accept-Language': 'ar' } });
  track(ctx);
  await waitCard(page);
  await sleep(300);
  const file = path.join(ART, 'widget-rtl.png');
  await page.screenshot({ path: file });
  const got = await page.evaluate(() => {
    const card = document.querySelector('cx-survey').shadowRoot.querySelector('.c');
    const r = card.getBoundingClientRect();
    return {
      dir: card.getAttribute('dir'), lang: card.getAttribute('lang'), left: r.left, right: r.right,
      vw: window.innerWidth, question: card.querySelector('#q').textContent
    };
  });
  got.png = pngInfo(file);
  got.errors = log.errors;
  assert(got.dir === 'rtl', `card dir="${got.dir}"`, got);
  assert(got.lang === 'ar', `card lang="${got.lang}"`, got);
  assert(got.left < got.vw / 2, `card left ${got.left} not in the left half of ${got.vw}`, got);
  assert(got.png.png && got.png.bytes > 1000, 'bad screenshot', got);
  return got;
}

/* (11) the widget does not take focus from the page */
async function noFocusSteal(track) {
  /* delay=500ms; the input is focused as soon as the DOM is there */
  const init = () => document.addEventListener('DOMContentLoaded', () => {
    document.getElementById('inp').focus();
    window.__cxCardAtFocus = !!document.querySelector('cx-survey');
    window.__cxFocused = document.activeElement && document.activeElement.id;
  });
  const { ctx, page, log } = await open('/focus/', { init });
  track(ctx);
  const atFocus = await page.evaluate(() => [window.__cxCardAtFocus, window.__cxFocused]);
  const cardAtFocus = atFocus[0] !== false || atFocus[1] !== 'inp';
  await waitCard(page);
  await sleep(500);
  const got = await page.evaluate(() => {
    const a = document.activeElement;
    return { active: a ? `${a.tagName.toLowerCase()}#${a.id}` : null };
  });
  got.card_present_when_input_focused = cardAtFocus;
  got.errors = log.errors;
  assert(!cardAtFocus, 'widget already shown when the input was focused (test timing broken)', got);
  assert(got.active === 'input#inp', `activeElement is ${got.active}, not input#inp`, got);
  return got;
}

/* (12) a polite live region in the shadow root announces the question within 1 s */
async function politeAnnounce(track) {
  const { ctx, page } = await open('/live/');
  track(ctx);
  /* record, in the page, when the card appears and when the live region gets text */
  const got = await withTimeout(page.evaluate(() => new Promise((resolve) => {
    const t0 = performance.now();
    let shown = null;
    const tick = () => {
      const host = document.querySelector('cx-survey');
      const sr = host && host.shadowRoot;
      if (sr && shown === null && sr.querySelector('.c')) shown = performance.now();
      const live = sr && sr.querySelector('[aria-live=polite]');
      const text = live ? live.textContent.trim() : '';
      if (shown !== null && (text || performance.now() - shown > 1500)) {
        resolve({ shown_after_ms: Math.round(shown - t0), live_region: !!live, text,
          announced_after_ms: text ? Math.round(performance.now() - shown) : null });
        return;
      }
      if (performance.now() - t0 > 6000) { resolve({ shown: false }); return; }
      setTimeout(tick, 20);
    };
    tick();
  })), 8000, 'live region');
  assert(got.shown_after_ms !== undefined, 'widget not shown', got);
  assert(got.live_region, 'no [aria-live=polite] in the shadow root', got);
  assert(got.text !== '' && got.announced_after_ms <= 1000, 'live region empty 1 s after the card appeared', got);
  return got;
}

/* (13) dark colour scheme + reduced motion */
async function media(track) {
  const read = async (scheme) => {
    const { ctx, page, log } = await open('/media/', { media: { colorScheme: scheme, reducedMotion: 'reduce' } });
    track(ctx);
    await waitCard(page);
    const r = await page.evaluate(() => {
      const card = document.querySelector('cx-survey').shadowRoot.querySelector('.c');
      const s = getComputedStyle(card);
      return { bg: s.backgroundColor, color: s.color, animationName: s.animationName,
        animationDuration: s.animationDuration, running: card.getAnimations().length,
        dark: matchMedia('(prefers-color-scheme: dark)').matches };
    });
    r.errors = log.errors;
    await ctx.close();
    return r;
  };
  const light = await read('light');
  const dark = await read('dark');
  const got = { light, dark };
  assert(light.dark === false && dark.dark === true, 'emulateMedia did not take', got);
  assert(dark.bg !== light.bg, `dark background ${dark.bg} == light ${light.bg}`, got);
  assert(dark.animationName === 'none' || dark.animationDuration === '0s', 'an animation is set under reduced motion', got);
  assert(dark.running === 0, 'animations running under reduced motion', got);
  return got;
}

/* (14) the widget talks only to its own origin under /cx/ */
async function onlyOwnRequests(track) {
  const { ctx, page, log, all } = await open('/own/');
  track(ctx);
  await waitCard(page);
  await page.click('cx-survey >> button[role=radio]:text-is("8")');
  const ta = page.locator('cx-survey >> textarea');
  await ta.waitFor({ state: 'visible', timeout: 3000 });
  await ta.fill('Own requests');
  await page.click('cx-survey >> button:text-is("Send")');
  await page.locator('cx-survey >> p.t').waitFor({ state: 'visible', timeout: 3000 });
  const s = await reportUntil('nps_own', (s) => s.answered === 1 && (s.comments || []).length === 1);
  await sleep(300);
  const origin = new URL(BASE).origin;
  const pageUrl = BASE + '/own/';
  const other = all.filter((r) => r.url !== pageUrl &&
    !(new URL(r.url).origin === origin && /^\/cx\/(w\.js|r)$/.test(new URL(r.url).pathname)));
  const got = { requests: all, other, report: brief(s), errors: log.errors };
  assert(s.answered === 1 && s.comments.length === 1, 'answer/comment not stored', got);
  assert(all.some((r) => r.url === `${origin}/cx/w.js`), 'no request for /cx/w.js seen (recording broken)', got);
  assert(other.length === 0, `requests outside ${origin}/cx/: ${other.map((r) => r.url).join(' ')}`, got);
  return { requests: all.map((r) => `${r.method} ${r.url}`) };
}

/* (18) issue 12: a prompted page is never reused with its answered token */
async function reusedPage(track) {
  const { ctx, page, log, resp } = await open('/reuse/');
  track(ctx);
  const h = resp.headers();
  const old = await resp.text();
  const got = { headers: h, log };
  assert(h['cache-control'] === 'private, no-store', `Cache-Control "${h['cache-control']}"`, got);
  assert(!h.etag && !h['last-modified'], 'validators on a prompted page', got);
  await waitCard(page);
  await page.click('cx-survey >> button[role=radio]:text-is("9")');
  await page.locator('cx-survey >> textarea').waitFor({ state: 'visible', timeout: 3000 });
  await page.click('cx-survey >> button:text-is("Skip")');
  await reportUntil('nps_reuse', (s) => s.answered === 1);

  /* Back to the prompted page: fetched again or restored, never asking with the used token */
  await page.goto(BASE + '/plain.html', { waitUntil: 'load' });
  await page.goBack({ waitUntil: 'load' });
  await sleep(1200);
  got.after_back = await page.locator(CARD).count();
  got.after_back_radios = await page.locator('cx-survey >> button[role=radio]').count();
  assert(got.after_back_radios === 0, 'Back: the prompt asks again', got);

  /* the old page as a stale cache would hand it back, in a tab that does not remember
   * the token: intake answers 409 and the widget says so, with no follow-up */
  await page.evaluate(() => sessionStorage.clear());
  await page.route('**/reuse/', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: old }));
  await page.goto(BASE + '/reuse/', { waitUntil: 'load' });
  await waitCard(page);
  const r409 = page.waitForResponse((r) => r.url().endsWith('/cx/r') &&
    r.request().postData().includes('"answer"'), { timeout: 3000 });
  await page.click('cx-survey >> button[role=radio]:text-is("3")');
  got.status = (await r409).status();
  await page.locator('cx-survey >> p.t').waitFor({ state: 'visible', timeout: 3000 });
  got.message = (await page.locator('cx-survey >> p.t').textContent()).trim();
  got.textareas = await page.locator('cx-survey >> textarea').count();
  const s = await report('nps_reuse');
  got.report = brief(s);
  assert(got.status === 409, `the second answer got ${got.status}, not 409`, got);
  assert(got.message === 'Your answer was already recorded.', `message "${got.message}"`, got);
  assert(got.textareas === 0, 'a follow-up after a 409', got);
  assert(s.answered === 1 && s.distribution[9] === 1 && !s.distribution[3], 'the first answer is the one kept', got);

  /* and the same page once more: this tab now remembers the token, nothing is shown */
  await page.goto(BASE + '/reuse/', { waitUntil: 'load' });
  await sleep(1200);
  got.remembered = await page.locator(CARD).count();
  assert(got.remembered === 0, 'a remembered token asks again', got);
  assert(log.errors.length === 0, 'page errors', got);
  return { status: got.status, message: got.message };
}

/* cx_survey position bottom-left and color; on a phone (touch, 390 px) 44 px targets in two rows */
async function looks(track) {
  const got = {};
  let o = await open('/looks/');
  track(o.ctx);
  await waitCard(o.page);
  const card = await o.page.locator(CARD).boundingBox();
  got.card_x = Math.round(card.x);
  assert(got.card_x === 16, 'bottom-left: the card 16 px from the left edge', got);
  got.accent = await o.page.evaluate(() => {
    const c = document.querySelector('cx-survey').shadowRoot.querySelector('.c');
    return getComputedStyle(c).getPropertyValue('--a').trim();
  });
  assert(got.accent.toLowerCase() === '#0b6e4f', 'the accent is the survey\'s color', got);

  o = await open('/looks/', { viewport: { width: 390, height: 844 }, touch: true });
  track(o.ctx);
  await waitCard(o.page);
  const boxes = await o.page.locator('cx-survey >> button[role=radio]').evaluateAll((l) =>
    l.map((b) => { const r = b.getBoundingClientRect(); return [Math.round(r.top), r.width, r.height]; }));
  got.phone_sizes = boxes.map((b) => `${b[1].toFixed(0)}x${b[2].toFixed(0)}`);
  got.rows = [...new Set(boxes.map((b) => b[0]))].length;
  assert(boxes.length === 11, 'eleven scores', got);
  assert(boxes.every((b) => b[1] >= 44 && b[2] >= 44), 'every score at least 44 x 44 px', got);
  assert(got.rows === 2, 'the 0-10 scale in two rows', got);
  got.first_row = boxes.filter((b) => b[0] === boxes[0][0]).length;
  await o.page.screenshot({ path: path.join(ART, 'widget-looks-390.png') });
  return got;
}

/* cx_prompt trigger=: exit (the pointer out by the top), scroll:50% (a long page), idle:1s */
async function triggers(track) {
  const got = {};

  let o = await open('/trig-exit/');
  track(o.ctx);
  await o.page.mouse.move(400, 300);
  await sleep(900);
  got.exit_inside = await o.page.locator(CARD).count();
  assert(got.exit_inside === 0, 'exit: shown while the pointer is in the page', got);
  await o.page.mouse.move(400, 5, { steps: 4 });
  await o.page.mouse.move(400, -30, { steps: 4 });
  await waitCard(o.page, 3000);
  got.exit_errors = o.log.errors;

  o = await open('/trig-scroll/');
  track(o.ctx);
  await o.page.mouse.move(400, 300);
  await sleep(900);
  got.scroll_top = await o.page.locator(CARD).count();
  await o.page.mouse.wheel(0, 600);             /* 600 of the 2200 px that scroll: 27% */
  await sleep(700);
  got.scroll_27 = await o.page.locator(CARD).count();
  assert(got.scroll_top === 0 && got.scroll_27 === 0, 'scroll: shown before 50%', got);
  await o.page.mouse.wheel(0, 700);             /* 1300: 59% */
  await waitCard(o.page, 3000);
  got.scroll_y = await o.page.evaluate(() => window.scrollY);

  o = await open('/trig-idle/');
  track(o.ctx);
  for (let i = 0; i < 8; i++) {                 /* 1.6 s of moves, 200 ms apart */
    await o.page.mouse.move(300 + i * 10, 300);
    await sleep(200);
  }
  got.idle_busy = await o.page.locator(CARD).count();
  assert(got.idle_busy === 0, 'idle: shown while the visitor moves the mouse', got);
  const t0 = Date.now();
  await waitCard(o.page, 3000);
  got.idle_after_ms = Date.now() - t0;
  assert(got.idle_after_ms >= 600, 'idle: shown sooner than 1 s after the last move', got);
  return got;
}

/* a single-page application: nothing at load; a route change asks <endpoint>p and shows its prompt */
async function spaRoute(track) {
  const got = {};
  const o = await open('/spa/');
  track(o.ctx);
  await sleep(800);
  got.at_load = await o.page.locator(CARD).count();
  assert(got.at_load === 0, 'no prompt before the route change', got);
  await o.page.click('#orders');
  await waitCard(o.page, 4000);
  got.requests = o.log.requests;
  assert(got.requests.includes('GET /cx/p'), 'the route asked <endpoint>p', got);
  const asked = o.all.find((r) => r.url.includes('/cx/p?'));
  got.asked = asked && asked.url.replace(BASE, '');
  assert(got.asked === '/cx/p?touchpoint=spa_orders&path=%2Fspa%2Forders%2F42', 'with the touchpoint and the route', got);
  await o.page.locator('cx-survey >> button[role=radio]').nth(9).click();
  const s = await reportUntil('nps_spa', (x) => x.answered === 1);
  got.answered = s.answered;
  assert(s.answered === 1, 'the answer is stored', got);
  const nd = await (await fetch(`${BASE}/cx-admin/responses.ndjson?survey=nps_spa`)).text();
  const row = JSON.parse(nd.trim().split('\n')[0]);
  got.row = { touchpoint: row.touchpoint, stage: row.stage, path: row.path, score: row.score };
  assert(row.touchpoint === 'spa_orders' && row.stage === 'usage' && row.path === '/spa/orders/42' && row.score === 9,
    'stored at the touchpoint, with the route', got);
  got.errors = o.log.errors;
  assert(o.log.errors.length === 0, 'no page errors', got);
  return got;
}

/* the dashboard's Preview: a new tab with the survey on a page without prompts; nothing posted or counted */
async function previewFlow(track) {
  const got = {};
  const o = await open('/cx-admin/');
  track(o.ctx);
  await o.page.waitForSelector('#pv-survey', { timeout: 8000 });
  await o.page.selectOption('#pv-survey', 'nps_spa');
  await o.page.fill('#pv-page', '/plain.html');
  const posts = [];
  o.ctx.on('request', (r) => { if (r.method() === 'POST') posts.push(new URL(r.url()).pathname); });
  const [tab] = await Promise.all([o.ctx.waitForEvent('page'), o.page.click('#preview button[type=submit]')]);
  await tab.waitForLoadState('load');
  got.url = tab.url().replace(BASE, '');
  assert(got.url === '/plain.html?cx_preview=nps_spa', 'the page, with cx_preview=', got);
  await waitCard(tab, 4000);
  await tab.locator('cx-survey >> button[role=radio]').nth(3).click();
  await tab.waitForSelector('cx-survey >> textarea', { timeout: 4000 });
  got.posts = posts;
  assert(posts.length === 0, 'nothing posted', got);
  const s = await report('nps_spa');
  got.counted = { offered: s.offered, displayed: s.displayed, answered: s.answered };
  assert(!s.offered && !s.displayed && !s.answered, 'nothing counted', got);
  await tab.screenshot({ path: path.join(ART, 'widget-preview.png') });
  return got;
}

/* a survey link (made by <report>link): its page asks at once; the answer is stored once */
async function surveyLink(track) {
  const got = {};
  const r = await withTimeout(fetch(`${BASE}/cx-admin/link?survey=nps_spa&touchpoint=support_call&stage=usage&attr.ticket=T-7`), 5000, 'link');
  const j = await r.json();
  got.path = j.path;
  assert(r.status === 200 && /^\/cx\/s\//.test(j.path), 'a link', got);
  let o = await open(j.path);
  track(o.ctx);
  got.title = await o.page.title();
  await waitCard(o.page, 4000);
  await o.page.locator('cx-survey >> button[role=radio]').nth(8).click();
  await o.page.waitForSelector('cx-survey >> textarea', { timeout: 4000 });
  const nd = async () => (await (await fetch(`${BASE}/cx-admin/responses.ndjson?survey=nps_spa`)).text())
    .trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => x.touchpoint === 'support_call');
  let rows = [];
  for (let i = 0; i < 30 && !rows.length; i++) { rows = await nd(); if (!rows.length) await sleep(100); }
  got.rows = rows.map((x) => ({ score: x.score, stage: x.stage, ticket: (x.attributes || {}).ticket }));
  assert(rows.length === 1 && rows[0].score === 8 && rows[0].stage === 'usage' && rows[0].attributes.ticket === 'T-7',
    'stored once, at the link\'s touchpoint and stage, with its attribute', got);
  /* the same link in another browser: a second answer is refused, and said */
  o = await open(j.path);
  track(o.ctx);
  await waitCard(o.page, 4000);
  await o.page.locator('cx-survey >> button[role=radio]').nth(2).click();
  await o.page.waitForFunction(() => /already/.test(document.querySelector('cx-survey').shadowRoot.textContent), null, { timeout: 4000 });
  rows = await nd();
  got.after = rows.map((x) => x.score);
  assert(rows.length === 1 && rows[0].score === 8, 'the first answer stays the only one', got);
  got.errors = o.log.errors;
  assert(o.log.errors.length === 0, 'no page errors', got);
  return got;
}

H.run(async () => {
  await H.check('mouse_answer', mouse);
  await H.check('keyboard_answer', keyboard);
  await H.check('escape_dismiss', escape);
  await H.check('language_tr', language);
  await H.check('csp_script_self', (t) => csp(t, '/csp-self/', false));
  await H.check('csp_nonce_strict_dynamic', (t) => csp(t, '/csp-nonce/', true));
  await H.check('csp_style_self', (t) => csp(t, '/csp-style/', false));
  await H.check('axe', axe);
  await H.check('axe_followup', axeFollowup);
  await H.check('screenshots', screenshots);
  await H.check('host_unchanged', hostPage);
  await H.check('languages', languages);
  await H.check('rtl', rtl);
  await H.check('no_focus_steal', noFocusSteal);
  await H.check('polite_announce', politeAnnounce);
  await H.check('media', media);
  await H.check('only_own_requests', onlyOwnRequests);
  await H.check('reused_page', reusedPage);
  await H.check('triggers', triggers);
  await H.check('looks', looks);
  await H.check('preview', previewFlow);
  await H.check('spa_route', spaRoute);
  await H.check('survey_link', surveyLink);
}, { crashKey: '_fatal', crashCode: 2 });
