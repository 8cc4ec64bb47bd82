/*
 * Tests of the survey widget src/widget/w.js with plain node (v20, no npm packages):
 *   node t/widget/test_widget.js
 *
 * The file must parse as plain script, be ASCII, stay within 5 KB gzipped as served, and behave as
 * the README's "What a page gets" and "Answers" say. Behaviour is checked against a small fake DOM that implements
 * only what the widget uses (elements, a shadow root, events with bubbling, focus), fake
 * timers and a scripted fetch. Real layout, CSS and screen readers need a browser: those
 * checks belong to the browser tests.
 */
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const zlib = require('node:zlib');
const { execFileSync } = require('node:child_process');

const FILE = path.join(__dirname, '..', '..', 'src', 'widget', 'w.js');
const SRC = fs.readFileSync(FILE, 'utf8');
/* what the module serves: src/minify.sh's output (comment lines and indentation gone) */
const SERVED = execFileSync('sh', [path.join(__dirname, '..', '..', 'src', 'minify.sh'), FILE]).toString();
const ORIGIN = 'https://shop.example';

/* ---------- fake DOM ---------- */

class Node_ {
  constructor(doc) {
    this.ownerDocument = doc;
    this.parentNode = null;
    this.childNodes = [];
    this._on = {};
  }
  addEventListener(type, f) {
    (this._on[type] = this._on[type] || []).push(f);
  }
  removeEventListener(type, f) {
    const l = this._on[type] || [];
    const i = l.indexOf(f);
    if (i >= 0) l.splice(i, 1);
  }
  appendChild(n) {
    if (n.parentNode) n.remove();
    n.parentNode = this;
    this.childNodes.push(n);
    return n;
  }
  append(...ns) {
    ns.forEach((n) => this.appendChild(n));
  }
  get textContent() {
    return (this._text || '') + this.childNodes.map((c) => c.textContent).join('');
  }
  set textContent(v) {
    this.childNodes.slice().forEach((c) => c.remove());
    this._text = String(v);
  }
  contains(n) {
    for (; n; n = n.parentNode) if (n === this) return true;
    return false;
  }
  /* the next node on an event's path: across a shadow root to its host */
  get _up() {
    return this.parentNode || this.host || (this === this.ownerDocument ? null : null);
  }
  get isConnected() {
    let n = this;
    while (n._up) n = n._up;
    return n === this.ownerDocument;
  }
  /* every element in this subtree, shadow trees included */
  *_all() {
    for (const c of this.childNodes) {
      yield c;
      yield* c._all();
      if (c.shadowRoot) {
        yield c.shadowRoot;
        yield* c.shadowRoot._all();
      }
    }
  }
}

class Element_ extends Node_ {
  constructor(doc, tag) {
    super(doc);
    this.tagName = tag.toUpperCase();
    this.attrs = new Map();
    this.className = '';
    this.value = '';
    this.shadowRoot = null;
  }
  setAttribute(k, v) {
    if (k === 'style') this.ownerDocument.styleAttrs++;
    this.attrs.set(k, String(v));
  }
  getAttribute(k) {
    return this.attrs.has(k) ? this.attrs.get(k) : null;
  }
  hasAttribute(k) {
    return this.attrs.has(k);
  }
  get id() {
    return this.getAttribute('id') || '';
  }
  get tabIndex() {
    const t = this.getAttribute('tabindex');
    return t === null ? (this.tagName === 'BUTTON' ? 0 : -1) : parseInt(t, 10);
  }
  set tabIndex(v) {
    this.setAttribute('tabindex', v);
  }
  attachShadow(init) {
    assert.ok(init.mode === 'open' || init.mode === 'closed');
    this.shadowRoot = new ShadowRoot_(this.ownerDocument, this);
    return this.shadowRoot;
  }
  remove() {
    const p = this.parentNode;
    if (!p) return;
    const f = this.ownerDocument._focused;
    if (f && (f === this || [...this._all()].includes(f))) this.ownerDocument._focused = null;
    p.childNodes.splice(p.childNodes.indexOf(this), 1);
    this.parentNode = null;
  }
  focus() {
    assert.ok(this.isConnected, 'focus() on a detached element');
    const doc = this.ownerDocument, prev = doc._focused;
    if (prev === this) return;
    doc._focused = this;
    doc.focusCalls.push(this);
    fire(this, 'focusin', { relatedTarget: prev });
  }
  click() {
    return fire(this, 'click');
  }
}

class ShadowRoot_ extends Node_ {
  constructor(doc, host) {
    super(doc);
    this.host = host;
    if (doc.adopted) this.adoptedStyleSheets = [];
  }
  get activeElement() {
    const f = this.ownerDocument._focused;
    return f && [...this._all()].includes(f) ? f : null;
  }
}

class Document_ extends Node_ {
  constructor(promptJson, opts = {}) {
    super(null);
    this.ownerDocument = this;
    this.hidden = !!opts.hidden;
    this.adopted = opts.adopted !== false;
    this._focused = null;
    this.focusCalls = [];
    this.styleAttrs = 0;
    this.body = new Element_(this, 'body');
    this.appendChild(this.body);
    this.pageButton = new Element_(this, 'button');
    this.body.appendChild(this.pageButton);
    if (promptJson !== null) {
      const p = new Element_(this, 'script');
      p.setAttribute('type', 'application/json');
      p.setAttribute('id', 'cx-prompt');
      p.nonce = 'n0nce';
      p.textContent = typeof promptJson === 'string' ? promptJson : JSON.stringify(promptJson);
      this.body.appendChild(p);
    }
  }
  createElement(tag) {
    return new Element_(this, tag);
  }
  getElementById(id) {
    for (const n of this._allLight()) if (n.id === id) return n;
    return null;
  }
  *_allLight() {
    const walk = function* (n) {
      for (const c of n.childNodes) {
        yield c;
        yield* walk(c);
      }
    };
    yield* walk(this);
  }
  get activeElement() {
    return this._focused;
  }
}

/* Dispatches a bubbling event from target up through shadow hosts to the document. */
function fire(target, type, props = {}) {
  const ev = Object.assign({
    type, target, defaultPrevented: false, stopped: false,
    preventDefault() { this.defaultPrevented = true; },
    stopPropagation() { this.stopped = true; }
  }, props);
  for (let n = target; n && !ev.stopped; n = n._up) {
    for (const f of (n._on[type] || []).slice()) f.call(n, ev);
  }
  return ev;
}

/* ---------- a page with the widget loaded ---------- */

const PROMPT = {
  v: 1, endpoint: '/cx/', token: 'tok.123', survey: 'nps_after_purchase', type: 'nps',
  lang: 'en', dir: 'ltr', delay: 3000,
  question: 'How likely are you to recommend us?',
  labels: ['Not likely', 'Very likely'],
  followup: 'What is the main reason for your score?',
  followup_by_band: { detractor: 'What should we do better?', promoter: 'What did you love?' },
  thanks: 'Thank you!'
};

function page(prompt, opts = {}) {
  const doc = new Document_(prompt === undefined ? PROMPT : prompt, opts);
  const timers = [];
  let now = 0, seq = 0;
  const calls = [];
  const errors = [];
  const respond = opts.respond || (() => 204);
  const sheets = [];
  class CSSStyleSheet {
    replaceSync(css) {
      this.css = css;
      sheets.push(this);
    }
  }
  const sandbox = {
    document: doc,
    location: { href: ORIGIN + '/checkout/done?x=1', origin: ORIGIN },
    URL,
    setTimeout(f, ms) {
      const t = { at: now + (ms || 0), f, id: ++seq };
      timers.push(t);
      return t.id;
    },
    clearTimeout(id) {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
    fetch(url, init) {
      const call = { url, init, body: init.body === undefined ? undefined : JSON.parse(init.body), at: now };
      calls.push(call);
      const r = respond(call, calls.length);
      if (r === 'throw') throw new TypeError('wrapped fetch failed');
      if (r === 'neterr') return Promise.reject(new TypeError('Failed to fetch'));
      /* a slow intake: the test settles it */
      if (r && r.then) return r.then((st) => ({ status: st, ok: st >= 200 && st < 300 }));
      /* <endpoint>p: a prompt as JSON */
      if (r && typeof r === 'object') return Promise.resolve({ status: 200, ok: true, json: () => Promise.resolve(r) });
      return Promise.resolve({ status: r, ok: r >= 200 && r < 300 });
    }
  };
  /* the viewport, for the scroll trigger; a touch screen, for exit */
  doc.documentElement = { scrollHeight: opts.scrollHeight || 800 };
  /* the widget's own script element, as a browser gives it while it runs */
  if (opts.script !== false) doc.currentScript = { src: ORIGIN + '/cx/w.js', nonce: 'sn0nce' };
  sandbox.innerHeight = 800;
  sandbox.scrollY = 0;
  if (opts.coarse) sandbox.matchMedia = (q) => ({ matches: q === '(pointer:coarse)' });
  if (opts.adopted !== false) sandbox.CSSStyleSheet = CSSStyleSheet;
  if (opts.noFetch) delete sandbox.fetch;
  if (opts.storage) {
    Object.defineProperty(sandbox, 'sessionStorage', { enumerable: true, get: opts.storage });
  }
  sandbox.window = sandbox;
  vm.createContext(sandbox);
  const keys = Object.keys(sandbox).sort();
  const p = {
    doc, calls, errors, sheets, sandbox, keys,
    run() {
      try {
        vm.runInContext(opts.src || SRC, sandbox, { filename: 'w.js' });
      } catch (e) {
        errors.push(e);
      }
    },
    /* lets fetch promises and their .then chains settle */
    async flush() {
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    },
    /* runs due timers in time order, settling promises after each */
    async advance(ms) {
      const end = now + ms;
      await p.flush();
      for (;;) {
        timers.sort((a, b) => a.at - b.at || a.id - b.id);
        if (!timers.length || timers[0].at > end) break;
        const t = timers.shift();
        now = t.at;
        t.f();
        await p.flush();
      }
      now = end;
    },
    get now() {
      return now;
    },
    host() {
      return doc.body.childNodes.find((n) => n.tagName === 'CX-SURVEY') || null;
    },
    root() {
      const h = p.host();
      return h && h.shadowRoot;
    },
    all(pred) {
      const r = p.root();
      return r ? [...r._all()].filter(pred) : [];
    },
    one(pred) {
      const l = p.all(pred);
      assert.equal(l.length, 1);
      return l[0];
    },
    radios() {
      return p.all((n) => n.getAttribute && n.getAttribute('role') === 'radio');
    },
    byId(id) {
      return p.one((n) => n.id === id);
    },
    card() {
      return p.one((n) => n.className === 'c');
    },
    button(text) {
      return p.one((n) => n.tagName === 'BUTTON' && n.textContent === text);
    },
    events() {
      return calls.filter((c) => c.body).map((c) => c.body.event);
    }
  };
  return p;
}

async function shown(prompt, opts) {
  const p = page(prompt, opts);
  p.run();
  await p.advance(3000);
  assert.ok(p.host(), 'the widget is shown after the delay');
  return p;
}

/* ---------- the file itself ---------- */

test('parses as a plain script and as a function body', () => {
  new vm.Script(SRC, { filename: 'w.js' });
  new Function(SRC);
});

test('is ASCII only (served as is, any charset)', () => {
  assert.ok(/^[\x09\x0a\x0d\x20-\x7e]*$/.test(SRC), 'non-ASCII or control byte in w.js');
});

/* 4 KB until issue 12: never pretending after a 409 and remembering answered tokens
 * took 300 bytes more, and the file ships with its comments */
test('is at most 5 KB gzipped as served (gzip -9 of src/minify.sh\'s output)', () => {
  const size = zlib.gzipSync(SERVED, { level: 9 }).length;
  console.log(`# w.js: ${SRC.length} bytes; served ${SERVED.length} bytes, ${size} gzipped`);
  assert.ok(size <= 5120, `the served w.js is ${size} bytes gzipped, over 5120`);
});

test('as served: every line of code kept, only comments, blank lines and indentation gone', () => {
  new Function(SERVED);
  const code = SERVED.split('\n').filter((l) => l);
  assert.ok(code.length > 100);
  for (const l of code) assert.ok(SRC.includes(l), `a served line is in the source: ${l}`);
  assert.doesNotMatch(SERVED, /^\s/m, 'no indentation');
  assert.ok(SERVED.length < SRC.length * 0.85, `smaller: ${SERVED.length} of ${SRC.length}`);
});

test('as served: shown after the delay, answered, thanked', async () => {
  const p = page(undefined, { src: SERVED });
  p.run();
  assert.deepEqual(p.errors, []);
  await p.advance(3000);
  assert.ok(p.host(), 'shown after the delay');
  p.radios()[9].click();
  await p.advance(10);
  assert.deepEqual(p.events(), ['display', 'answer']);
});

test('uses no inline style attributes, no innerHTML, no eval', () => {
  assert.ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/
    .test(SRC));
  assert.ok(!/\.style\b/.test(SRC), 'element.style is blocked by a strict CSP');
});

/* ---------- behaviour ---------- */

test('appears only after the delay, without stealing focus, and posts display', async () => {
  const p = page();
  p.doc.pageButton.focus();
  p.run();
  assert.deepEqual(p.errors, []);
  await p.advance(2999);
  assert.equal(p.host(), null);
  assert.equal(p.calls.length, 0);
  await p.advance(1);
  assert.ok(p.host());
  assert.equal(p.doc.activeElement, p.doc.pageButton, 'focus stays in the page');
  assert.equal(p.doc.focusCalls.length, 1);
  assert.equal(p.calls.length, 1);
  const c = p.calls[0];
  assert.equal(c.url, ORIGIN + '/cx/r');
  assert.deepEqual(c.body, { event: 'display', token: 'tok.123' });
  assert.equal(c.init.method, 'POST');
  assert.equal(c.init.credentials, 'same-origin');
  assert.equal(c.init.keepalive, true);
  assert.equal(JSON.stringify(c.init.headers), '{"Content-Type":"application/json"}');
  assert.equal(p.doc.styleAttrs, 0);
  /* one global, documented: window.cx, for single-page applications */
  assert.deepEqual(Object.keys(p.sandbox).sort(), p.keys.concat('cx').sort(), 'no other globals');
  assert.deepEqual(Object.keys(p.sandbox.cx), ['touch', 'on']);
});

test('renders an accessible NPS card in a shadow root', async () => {
  const p = await shown();
  const card = p.card();
  assert.equal(card.getAttribute('role'), 'dialog');
  assert.equal(card.getAttribute('aria-modal'), 'false');
  assert.equal(card.getAttribute('lang'), 'en');
  assert.equal(card.getAttribute('dir'), 'ltr');
  assert.equal(p.byId(card.getAttribute('aria-labelledby')).textContent, PROMPT.question);

  const group = p.one((n) => n.getAttribute && n.getAttribute('role') === 'radiogroup');
  assert.equal(p.byId(group.getAttribute('aria-labelledby')).textContent, PROMPT.question);
  const radios = p.radios();
  assert.deepEqual(radios.map((r) => r.textContent), '0 1 2 3 4 5 6 7 8 9 10'.split(' '));
  assert.ok(radios.every((r) => r.tagName === 'BUTTON' && r.getAttribute('type') === 'button'));
  assert.ok(radios.every((r) => r.getAttribute('aria-checked') === 'false'));
  assert.deepEqual(radios.map((r) => r.tabIndex), [0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]);
  assert.equal(p.byId(radios[0].getAttribute('aria-describedby')).textContent, 'Not likely');
  assert.equal(p.byId(radios[10].getAttribute('aria-describedby')).textContent, 'Very likely');

  const close = p.one((n) => n.className === 'x');
  assert.equal(close.getAttribute('aria-label'), 'Close');

  /* announced once the live region is in the page */
  const live = p.one((n) => n.getAttribute && n.getAttribute('aria-live') === 'polite');
  assert.equal(live.textContent, '');
  await p.advance(300);
  assert.equal(live.textContent, PROMPT.question);

  /* styles adopted, not inlined */
  assert.equal(p.root().adoptedStyleSheets.length, 1);
  const css = p.root().adoptedStyleSheets[0].css;
  assert.match(css, /z-index:2147483000/);
  assert.match(css, /prefers-reduced-motion/);
  assert.match(css, /prefers-color-scheme:dark/);
  assert.match(css, /position:fixed/);
  assert.match(css, /:focus/);
  assert.equal(p.all((n) => n.tagName === 'STYLE').length, 0);
});

test('CSAT and CES scales, rtl, ui overrides', async () => {
  const p = await shown(Object.assign({}, PROMPT, {
    type: 'csat', dir: 'rtl', lang: 'ar', labels: undefined,
    ui: { close: 'Kapat', scale: '1 = bad, 5 = good' }
  }));
  assert.deepEqual(p.radios().map((r) => r.textContent), ['1', '2', '3', '4', '5']);
  assert.equal(p.card().getAttribute('dir'), 'rtl');
  assert.equal(p.card().getAttribute('lang'), 'ar');
  assert.equal(p.one((n) => n.className === 'x').getAttribute('aria-label'), 'Kapat');
  const group = p.one((n) => n.getAttribute && n.getAttribute('role') === 'radiogroup');
  assert.equal(p.byId(group.getAttribute('aria-describedby')).textContent, '1 = bad, 5 = good');
  assert.equal(p.all((n) => n.className === 'e').length, 0, 'no end labels without labels');

  const q = await shown(Object.assign({}, PROMPT, { type: 'ces' }));
  assert.deepEqual(q.radios().map((r) => r.textContent), ['1', '2', '3', '4', '5', '6', '7']);
});

test('answer, band follow-up, comment, thanks, then gone', async () => {
  const p = await shown();
  const back = p.doc.pageButton;
  back.focus();
  p.radios()[0].focus();
  p.radios()[3].click();
  await p.flush();
  assert.deepEqual(p.calls[1].body, { event: 'answer', score: 3, token: 'tok.123' });

  const ta = p.one((n) => n.tagName === 'TEXTAREA');
  assert.equal(ta.getAttribute('maxlength'), '2000');
  const label = p.one((n) => n.tagName === 'LABEL');
  assert.equal(label.textContent, 'What should we do better?');
  assert.equal(label.getAttribute('for'), ta.id);
  assert.equal(p.doc.activeElement, ta, 'focus follows into the follow-up');

  /* a second pick is impossible: the radios are gone and the answer is recorded once */
  assert.equal(p.radios().length, 0);

  ta.value = '  Too slow delivery.\n';
  p.button('Send').click();
  await p.flush();
  assert.deepEqual(p.events(), ['display', 'answer', 'comment']);
  assert.deepEqual(p.calls[2].body,
    { event: 'comment', comment: 'Too slow delivery.', token: 'tok.123' });
  const thanks = p.one((n) => n.tagName === 'P');
  assert.equal(thanks.textContent, 'Thank you!');
  assert.equal(p.doc.activeElement, thanks);

  await p.advance(3999);
  assert.ok(p.host());
  await p.advance(1);
  assert.equal(p.host(), null);
  assert.equal(p.doc.activeElement, back, 'focus goes back where it came from');
  assert.deepEqual(p.events(), ['display', 'answer', 'comment'], 'no dismiss after answer');
});

test('follow-up text per band, general text as fallback', async () => {
  const cases = [
    ['nps', 6, 'What should we do better?'], ['nps', 7, PROMPT.followup],
    ['nps', 8, PROMPT.followup], ['nps', 9, 'What did you love?'],
    ['nps', 10, 'What did you love?'], ['nps', 0, 'What should we do better?'],
    ['csat', 2, 'What should we do better?'], ['csat', 3, PROMPT.followup],
    ['csat', 4, 'What did you love?'],
    ['ces', 3, 'What should we do better?'], ['ces', 5, PROMPT.followup],
    ['ces', 6, 'What did you love?']
  ];
  for (const [type, score, text] of cases) {
    const p = await shown(Object.assign({}, PROMPT, { type }));
    p.button(String(score)).click();
    await p.flush();
    assert.equal(p.one((n) => n.tagName === 'LABEL').textContent, text, `${type} ${score}`);
    assert.equal(p.calls[1].body.score, score);
  }
});

test('skip sends no comment; empty send sends no comment', async () => {
  const p = await shown();
  p.button('9').click();
  await p.flush();
  p.button('Skip').click();
  await p.flush();
  assert.deepEqual(p.events(), ['display', 'answer']);
  assert.equal(p.one((n) => n.tagName === 'P').textContent, 'Thank you!');

  const q = await shown();
  q.button('9').click();
  await q.flush();
  q.one((n) => n.tagName === 'TEXTAREA').value = '   ';
  q.button('Send').click();
  await q.flush();
  assert.deepEqual(q.events(), ['display', 'answer']);
});

test('no follow-up and no thanks: the card goes at once after the answer', async () => {
  const p = await shown(Object.assign({}, PROMPT,
    { followup: undefined, followup_by_band: undefined, thanks: undefined }));
  p.button('10').click();
  await p.flush();
  assert.equal(p.host(), null);
  assert.deepEqual(p.events(), ['display', 'answer']);
});

test('no follow-up: thanks are announced in the live region', async () => {
  const p = await shown(Object.assign({}, PROMPT, { followup: undefined, followup_by_band: {} }));
  p.button('10').click();
  await p.flush();
  const live = p.one((n) => n.getAttribute && n.getAttribute('aria-live') === 'polite');
  assert.equal(live.textContent, 'Thank you!');
  await p.advance(4000);
  assert.equal(p.host(), null);
});

test('Esc before answering dismisses, stays in the widget, never comes back', async () => {
  const p = await shown();
  let pageSawEsc = false;
  p.doc.addEventListener('keydown', () => { pageSawEsc = true; });
  p.radios()[2].focus();
  const ev = fire(p.radios()[2], 'keydown', { key: 'Escape' });
  await p.flush();
  assert.equal(p.host(), null);
  assert.equal(pageSawEsc, false);
  assert.ok(ev.stopped);
  assert.deepEqual(p.events(), ['display', 'dismiss']);
  assert.deepEqual(p.calls[1].body, { event: 'dismiss', token: 'tok.123' });
  await p.advance(600000);
  assert.equal(p.host(), null);
  assert.deepEqual(p.events(), ['display', 'dismiss']);
});

test('Esc that ends an IME composition does not dismiss', async () => {
  const p = await shown();
  p.button('8').click();
  await p.flush();
  const ta = p.one((n) => n.tagName === 'TEXTAREA');
  fire(ta, 'keydown', { key: 'Escape', isComposing: true });
  assert.ok(p.host());
  fire(ta, 'keydown', { key: 'Escape' });
  assert.equal(p.host(), null);
});

test('a pick by mouse (no focus in the card) does not move focus', async () => {
  const p = await shown();
  p.doc.pageButton.focus();
  const r = p.radios();
  r[9].click();
  r[9].click();
  r[1].click();
  await p.flush();
  assert.deepEqual(p.events(), ['display', 'answer'], 'one answer, however many clicks');
  assert.equal(p.calls[1].body.score, 9);
  assert.ok(p.one((n) => n.tagName === 'TEXTAREA'));
  assert.equal(p.doc.activeElement, p.doc.pageButton);
  assert.deepEqual(p.doc.focusCalls, [p.doc.pageButton]);
});

test('close button dismisses; close after answering does not', async () => {
  const p = await shown();
  p.one((n) => n.className === 'x').click();
  await p.flush();
  assert.equal(p.host(), null);
  assert.deepEqual(p.events(), ['display', 'dismiss']);

  const q = await shown();
  q.button('5').click();
  q.one((n) => n.className === 'x').click();
  await q.flush();
  assert.equal(q.host(), null);
  assert.deepEqual(q.events(), ['display', 'answer']);
});

test('keyboard: arrows move focus (roving tabindex) without picking; wrap; Home/End', async () => {
  const p = await shown();
  const r = p.radios();
  r[0].focus();
  const key = (k) => fire(p.doc.activeElement, 'keydown', { key: k });
  assert.ok(key('ArrowRight').defaultPrevented);
  assert.equal(p.doc.activeElement, r[1]);
  assert.deepEqual(r.map((x) => x.tabIndex).indexOf(0), 1);
  assert.equal(r.filter((x) => x.tabIndex === 0).length, 1);
  key('ArrowDown');
  assert.equal(p.doc.activeElement, r[2]);
  key('ArrowUp');
  key('ArrowLeft');
  key('ArrowLeft');
  assert.equal(p.doc.activeElement, r[10], 'wraps to the end');
  key('ArrowRight');
  assert.equal(p.doc.activeElement, r[0], 'wraps to the start');
  key('End');
  assert.equal(p.doc.activeElement, r[10]);
  key('Home');
  assert.equal(p.doc.activeElement, r[0]);
  assert.equal(key('a').defaultPrevented, false);
  assert.equal(key('Tab').defaultPrevented, false);
  await p.flush();
  assert.deepEqual(p.events(), ['display'], 'moving never answers');
  assert.ok(r.every((x) => x.getAttribute('aria-checked') === 'false'));

  const q = await shown(Object.assign({}, PROMPT, { dir: 'rtl' }));
  const s = q.radios();
  s[0].focus();
  fire(s[0], 'keydown', { key: 'ArrowLeft' });
  assert.equal(q.doc.activeElement, s[1], 'rtl: left is forward');
});

test('included twice: one survey, one display', async () => {
  const p = page();
  p.run();
  p.run();
  await p.advance(3000);
  assert.equal(p.doc.body.childNodes.filter((n) => n.tagName === 'CX-SURVEY').length, 1);
  assert.deepEqual(p.events(), ['display']);
});

test('a hidden tab waits until it is visible', async () => {
  const p = page(undefined, { hidden: true });
  p.run();
  await p.advance(10000);
  assert.equal(p.host(), null);
  assert.equal(p.calls.length, 0);
  p.doc.hidden = false;
  fire(p.doc, 'visibilitychange');
  await p.flush();
  assert.ok(p.host());
  fire(p.doc, 'visibilitychange');
  assert.equal(p.doc.body.childNodes.filter((n) => n.tagName === 'CX-SURVEY').length, 1);
});

test('delay 0, missing, negative or junk shows at once', async () => {
  for (const delay of [0, undefined, -5, 'soon', null]) {
    const p = page(Object.assign({}, PROMPT, { delay }));
    p.run();
    await p.advance(0);
    assert.ok(p.host(), String(delay));
  }
});

/* ---------- looks (cx_survey position, color) ---------- */

/* the card, whatever its position classes */
const cardOf = (p) => p.one((n) => /^c( |$)/.test(n.className || ''));

test('position and color: the card\'s corner class and the accent, for the light scheme only', async () => {
  let p = await shown(Object.assign({}, PROMPT, { position: 'bottom-left', color: '#0B6E4F' }));
  assert.equal(cardOf(p).className, 'c l');
  assert.ok(p.sheets[0].css.endsWith('@media not all and (prefers-color-scheme:dark){.c{--a:#0B6E4F}}'),
    'the accent, after the dark scheme\'s, for the light one');
  p = await shown(Object.assign({}, PROMPT, { position: 'center' }));
  assert.equal(cardOf(p).className, 'c m');
  assert.doesNotMatch(p.sheets[0].css, /not all and/, 'no colour: the default accent');
  for (const bad of [{ position: 'top' }, { color: 'red' }, { color: '#12345' }, { color: '#123456;}x{' },
    { color: 5 }, { position: ['center'] }, { position: 'toString' }, { position: '__proto__' }]) {
    p = await shown(Object.assign({}, PROMPT, bad));
    assert.equal(cardOf(p).className, 'c', `ignored: ${JSON.stringify(bad)}`);
    assert.doesNotMatch(p.sheets[0].css, /not all and/, `ignored: ${JSON.stringify(bad)}`);
  }
});

test('the 0-10 scale is marked to wrap on touch screens; CSAT and CES are not', async () => {
  let p = await shown();
  assert.equal(p.one((n) => n.getAttribute && n.getAttribute('role') === 'radiogroup').className, 's n');
  assert.match(p.sheets[0].css, /@media \(pointer:coarse\)\{[^@]*height:44px;min-width:44px/, '44 px targets');
  p = await shown(Object.assign({}, PROMPT, { type: 'ces' }));
  assert.equal(p.one((n) => n.getAttribute && n.getAttribute('role') === 'radiogroup').className, 's');
});

/* ---------- triggers (cx_prompt trigger=) ---------- */

test('trigger exit: after the delay, only when the pointer leaves by the top', async () => {
  const p = page(Object.assign({}, PROMPT, { trigger: 'exit' }));
  p.run();
  await p.advance(3000);
  assert.equal(p.host(), null, 'not at the delay');
  fire(p.doc, 'mouseout', { clientY: 300, relatedTarget: null });
  fire(p.doc, 'mouseout', { clientY: 0, relatedTarget: p.doc.pageButton });
  await p.advance(10);
  assert.equal(p.host(), null, 'not when the pointer moves within the page, or leaves by a side');
  fire(p.doc, 'mouseout', { clientY: -2, relatedTarget: null });
  await p.advance(10);
  assert.ok(p.host(), 'shown when the pointer leaves by the top');
  assert.deepEqual(p.events(), ['display']);
  assert.equal((p.doc._on.mouseout || []).length, 0, 'the listener is gone');
  fire(p.doc, 'mouseout', { clientY: -2, relatedTarget: null });
  await p.advance(10);
  assert.equal(p.doc.body.childNodes.filter((n) => n.tagName === 'CX-SURVEY').length, 1, 'shown once');
  assert.deepEqual(p.errors, []);
});

test('trigger exit before the delay has passed counts for nothing', async () => {
  const p = page(Object.assign({}, PROMPT, { trigger: 'exit' }));
  p.run();
  fire(p.doc, 'mouseout', { clientY: -2, relatedTarget: null });
  await p.advance(3000);
  assert.equal(p.host(), null, 'an exit before the delay is not the trigger');
  fire(p.doc, 'mouseout', { clientY: -2, relatedTarget: null });
  await p.advance(1);
  assert.ok(p.host());
});

test('trigger exit on a touch screen: the delay alone', async () => {
  const p = page(Object.assign({}, PROMPT, { trigger: 'exit' }), { coarse: true });
  p.run();
  await p.advance(2999);
  assert.equal(p.host(), null);
  await p.advance(1);
  assert.ok(p.host(), 'shown at the delay: a touch screen cannot tell an exit');
});

test('trigger scroll: at the share of the page scrolled', async () => {
  const p = page(Object.assign({}, PROMPT, { trigger: 'scroll', at: 60 }), { scrollHeight: 2800 });
  p.run();
  await p.advance(3000);
  assert.equal(p.host(), null, 'not at the top of a long page');
  p.sandbox.scrollY = 1000;                     /* 50% of the 2000 px that scroll */
  fire(p.doc, 'scroll');
  await p.advance(10);
  assert.equal(p.host(), null, 'not at 50%');
  p.sandbox.scrollY = 1200;                     /* 60% */
  fire(p.doc, 'scroll');
  await p.advance(10);
  assert.ok(p.host(), 'shown at 60%');
  assert.equal((p.doc._on.scroll || []).length, 0, 'the listener is gone');
});

test('trigger scroll on a page that does not scroll, or already scrolled: at the delay', async () => {
  let p = page(Object.assign({}, PROMPT, { trigger: 'scroll', at: 60 }));
  p.run();
  await p.advance(3000);
  assert.ok(p.host(), 'a page that fits the window');
  p = page(Object.assign({}, PROMPT, { trigger: 'scroll', at: 60 }), { scrollHeight: 2800 });
  p.sandbox.scrollY = 1900;
  p.run();
  await p.advance(3000);
  assert.ok(p.host(), 'a page read that far before the delay ended');
});

test('trigger idle: after that long without input, each input starting again', async () => {
  const p = page(Object.assign({}, PROMPT, { trigger: 'idle', at: 20000 }));
  p.run();
  await p.advance(3000 + 10000);
  fire(p.doc, 'mousemove');
  await p.advance(15000);
  fire(p.doc, 'keydown', { key: 'a' });
  await p.advance(19999);
  assert.equal(p.host(), null, 'input keeps it away');
  await p.advance(1);
  assert.ok(p.host(), 'shown after 20 s without input');
  for (const t of ['mousemove', 'keydown', 'scroll', 'touchstart', 'pointerdown']) {
    assert.equal((p.doc._on[t] || []).length, 0, `no ${t} listener of the trigger left`);
  }
});

test('a trigger the widget does not know, or a bad "at": at the delay, as without one', async () => {
  for (const extra of [{ trigger: 'hover' }, { trigger: 'scroll', at: 0 }, { trigger: 'scroll', at: 150 },
    { trigger: 'scroll', at: 'x' }, { trigger: 'idle', at: -5 }, { trigger: 'idle' }, { trigger: 7 }]) {
    const p = page(Object.assign({}, PROMPT, extra));
    p.run();
    await p.advance(2999);
    assert.equal(p.host(), null);
    await p.advance(1);
    assert.ok(p.host(), `shown at the delay: ${JSON.stringify(extra)}`);
    assert.deepEqual(p.errors, []);
  }
});

test('bad prompts do nothing and throw nothing', async () => {
  const bad = [
    null, '', '{', '[]', 'null', '"x"', '{"v":1}',
    Object.assign({}, PROMPT, { type: 'stars' }),
    Object.assign({}, PROMPT, { type: 'constructor' }),
    Object.assign({}, PROMPT, { type: '__proto__' }),
    Object.assign({}, PROMPT, { token: '' }),
    Object.assign({}, PROMPT, { token: 42 }),
    Object.assign({}, PROMPT, { question: undefined }),
    Object.assign({}, PROMPT, { endpoint: undefined }),
    Object.assign({}, PROMPT, { endpoint: '//evil.example/cx/' }),
    Object.assign({}, PROMPT, { endpoint: '/\\evil.example/cx/' }),
    Object.assign({}, PROMPT, { endpoint: '/\t/evil.example/' }),
    Object.assign({}, PROMPT, { endpoint: 'https://evil.example/cx/' }),
    Object.assign({}, PROMPT, { endpoint: 'javascript:alert(1)//' }),
    Object.assign({}, PROMPT, { endpoint: 'http://[::1' })
  ];
  for (const b of bad) {
    const p = page(b);
    p.run();
    await p.advance(10000);
    assert.deepEqual(p.errors, [], JSON.stringify(b));
    assert.equal(p.host(), null, JSON.stringify(b));
    assert.equal(p.calls.length, 0, JSON.stringify(b));
  }
  const p = page(undefined, { noFetch: true });
  p.run();
  await p.advance(10000);
  assert.deepEqual(p.errors, []);
  assert.equal(p.host(), null);
});

test('junk in optional fields is ignored', async () => {
  const p = await shown(Object.assign({}, PROMPT, {
    labels: ['only one'], ui: 'x', followup_by_band: 'x', followup: 7, thanks: {},
    lang: 5, dir: 'sideways'
  }));
  assert.equal(p.card().getAttribute('dir'), 'ltr');
  assert.equal(p.card().hasAttribute('lang'), false);
  assert.equal(p.one((n) => n.className === 'x').getAttribute('aria-label'), 'Close');
  assert.equal(p.all((n) => n.className === 'e').length, 0);
  p.button('4').click();
  await p.flush();
  assert.equal(p.host(), null);
  assert.deepEqual(p.events(), ['display', 'answer']);
});

test('an absolute same-origin endpoint is accepted', async () => {
  const p = await shown(Object.assign({}, PROMPT, { endpoint: ORIGIN + '/feedback/' }));
  assert.equal(p.calls[0].url, ORIGIN + '/feedback/r');
});

test('texts are never parsed as markup', async () => {
  const p = await shown(Object.assign({}, PROMPT, { question: '<img src=x onerror=alert(1)>' }));
  assert.equal(p.all((n) => n.tagName === 'IMG').length, 0);
  assert.equal(p.byId('q').textContent, '<img src=x onerror=alert(1)>');
});

test('network errors and 5xx: two quiet retries with backoff', async () => {
  const p = await shown(undefined, { respond: () => 'neterr' });
  assert.equal(p.calls.length, 1);
  await p.advance(1000);
  assert.equal(p.calls.length, 2);
  await p.advance(3999);
  assert.equal(p.calls.length, 2);
  await p.advance(1);
  assert.equal(p.calls.length, 3);
  await p.advance(600000);
  assert.equal(p.calls.length, 3, 'gives up after two retries');
  assert.ok(p.host(), 'no error shown, the card stays');

  const q = await shown(undefined, { respond: (c, n) => (n < 3 ? 503 : 204) });
  await q.advance(5000);
  assert.deepEqual(q.events(), ['display', 'display', 'display']);

  const r = await shown(undefined, { respond: (c, n) => (n === 1 ? 'throw' : 204) });
  await r.advance(1000);
  assert.deepEqual(r.events(), ['display', 'display']);
  assert.deepEqual(r.errors, []);
});

test('4xx is final', async () => {
  for (const status of [400, 403, 409, 413]) {
    const p = await shown(undefined, { respond: () => status });
    await p.advance(600000);
    assert.equal(p.calls.length, 1, String(status));
  }
});

test('a comment is posted only after the answer post settles', async () => {
  const p = await shown(undefined, {
    respond: (c) => (c.body.event === 'answer' ? 'neterr' : 204)
  });
  p.button('2').click();
  await p.flush();
  assert.equal(p.all((n) => n.tagName === 'TEXTAREA').length, 0, 'the follow-up waits for intake');
  await p.advance(1000);
  /* a second at most: then the follow-up comes anyway (the first retry went at the same time) */
  p.one((n) => n.tagName === 'TEXTAREA').value = 'late';
  p.button('Send').click();
  await p.flush();
  assert.deepEqual(p.events(), ['display', 'answer', 'answer']);
  await p.advance(4000);
  assert.deepEqual(p.events(), ['display', 'answer', 'answer', 'answer', 'comment']);
});

test('without adoptedStyleSheets: a <style> in the shadow root with the page nonce', async () => {
  const p = await shown(undefined, { adopted: false });
  const st = p.one((n) => n.tagName === 'STYLE');
  assert.equal(st.nonce, 'n0nce');
  assert.match(st.textContent, /z-index:2147483000/);
  assert.equal(st.parentNode, p.root());
});

/* ---------- issue 12: a page reused from the browser's cache (docs/behaviours.md 24) ---------- */

/* a tab's sessionStorage, shared by the pages of one test */
function tab() {
  const m = new Map();
  const st = {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v))
  };
  return () => st;
}

test('409 on the answer: "already recorded", never the follow-up, no comment', async () => {
  const p = await shown(undefined, { respond: (c) => (c.body.event === 'answer' ? 409 : 204) });
  p.radios()[0].focus();
  p.button('9').click();
  await p.flush();
  assert.equal(p.all((n) => n.tagName === 'TEXTAREA' || n.tagName === 'LABEL').length, 0,
    'no follow-up question');
  const m = p.one((n) => n.tagName === 'P');
  assert.equal(m.textContent, 'Your answer was already recorded.');
  assert.notEqual(m.textContent, PROMPT.thanks, 'not the thanks of a score that was taken');
  assert.equal(p.doc.activeElement, m, 'focus stays in the card, on the message');
  await p.advance(4000);
  assert.equal(p.host(), null, 'gone after 4 s like the thanks');
  assert.deepEqual(p.events(), ['display', 'answer'], 'no comment, no dismiss');
});

test('409 without a follow-up survey: "already recorded" instead of the thanks', async () => {
  const p = await shown(Object.assign({}, PROMPT, { followup: undefined, followup_by_band: {} }),
    { respond: (c) => (c.body.event === 'answer' ? 409 : 204) });
  p.button('10').click();
  await p.flush();
  const live = p.one((n) => n.getAttribute && n.getAttribute('aria-live') === 'polite');
  assert.equal(live.textContent, 'Your answer was already recorded.');
});

test('409 in the visitor\'s language: ui.recorded from the prompt', async () => {
  const p = await shown(Object.assign({}, PROMPT, { lang: 'tr',
    ui: { recorded: 'Yan\u0131t\u0131n\u0131z zaten kaydedildi.' } }),
    { respond: (c) => (c.body.event === 'answer' ? 409 : 204) });
  p.button('3').click();
  await p.flush();
  assert.equal(p.one((n) => n.tagName === 'P').textContent, 'Yan\u0131t\u0131n\u0131z zaten kaydedildi.');
});

test('a slow intake: the follow-up after 1 s; a late 409 sends no comment and says so', async () => {
  let settle;
  const p = await shown(undefined, {
    respond: (c) => (c.body.event !== 'answer' ? 204 : new Promise((ok) => { settle = ok; }))
  });
  p.button('5').click();
  await p.flush();
  assert.equal(p.all((n) => n.tagName === 'TEXTAREA').length, 0);
  await p.advance(999);
  assert.equal(p.all((n) => n.tagName === 'TEXTAREA').length, 0, 'waits up to a second');
  await p.advance(1);
  assert.ok(p.one((n) => n.tagName === 'TEXTAREA'), 'then the follow-up');
  p.one((n) => n.tagName === 'TEXTAREA').value = 'typed before the 409';
  p.button('Send').click();
  settle(409);
  await p.flush();
  assert.deepEqual(p.events(), ['display', 'answer'], 'no comment on a refused score');
  assert.equal(p.one((n) => n.tagName === 'P').textContent, 'Your answer was already recorded.',
    'the thanks become "already recorded"');
});

test('a token answered in this tab is never asked again (page reused from history)', async () => {
  const storage = tab();
  const p = await shown(undefined, { storage });
  p.button('9').click();
  await p.flush();
  p.button('Skip').click();
  await p.advance(4000);
  assert.equal(p.host(), null);

  /* the same page again: nothing shown, nothing posted */
  const again = page(undefined, { storage });
  again.run();
  await again.advance(600000);
  assert.equal(again.host(), null, 'the answered token shows nothing');
  assert.deepEqual(again.events(), [], 'and posts nothing');
  assert.deepEqual(again.errors, []);

  /* a new page (a new token) in the same tab is asked */
  const other = await shown(Object.assign({}, PROMPT, { token: 'tok.456' }), { storage });
  assert.deepEqual(other.events(), ['display']);
});

test('a token dismissed in this tab is not shown again', async () => {
  const storage = tab();
  const p = await shown(undefined, { storage });
  p.one((n) => n.className === 'x').click();
  await p.flush();
  assert.deepEqual(p.events(), ['display', 'dismiss']);
  const again = page(undefined, { storage });
  again.run();
  await again.advance(600000);
  assert.equal(again.host(), null);
});

test('no usable sessionStorage (blocked, throwing): the widget works as before', async () => {
  const p = await shown(undefined, { storage: () => { throw new Error('SecurityError'); } });
  p.button('9').click();
  await p.flush();
  assert.ok(p.one((n) => n.tagName === 'TEXTAREA'));
  assert.deepEqual(p.errors, []);
  const q = await shown(undefined, {
    storage: () => ({ getItem: () => null, setItem: () => { throw new Error('QuotaExceededError'); } })
  });
  q.button('1').click();
  await q.flush();
  assert.ok(q.one((n) => n.tagName === 'TEXTAREA'));
});


/* ---------- single-page applications: cx.touch(name) ---------- */

test('cx.touch asks <endpoint>p for the route, shows the prompt it answers, one at a time', async () => {
  const asked = [];
  const p = page(null, {
    respond: (call) => {
      if (call.url.includes('/cx/p?')) {
        asked.push(call);
        return asked.length === 3 ? 204 : { ...PROMPT, token: 'spa.' + asked.length, delay: 0 };
      }
      return 204;
    }
  });
  p.sandbox.location.pathname = '/account/orders/7';
  p.run();
  assert.deepEqual(p.errors, []);
  assert.equal(typeof p.sandbox.cx.touch, 'function');
  assert.equal(p.host(), null, 'no #cx-prompt: nothing at load');

  p.sandbox.cx.touch('order status');
  await p.advance(0);
  assert.equal(asked.length, 1);
  assert.equal(asked[0].url, ORIGIN + '/cx/p?touchpoint=order%20status&path=%2Faccount%2Forders%2F7');
  assert.equal(asked[0].init.credentials, 'same-origin');
  assert.equal(asked[0].init.method, undefined, 'a GET');
  assert.ok(p.host(), 'the answered prompt is shown');
  const display = p.calls.find((c) => c.body && c.body.event === 'display');
  assert.equal(display.body.token, 'spa.1');
  assert.equal(display.url, ORIGIN + '/cx/r');

  /* a second route while the card is up: counted there, not shown twice */
  p.sandbox.cx.touch('home');
  await p.advance(0);
  assert.equal(asked.length, 2);
  assert.equal(p.doc.body.childNodes.filter((n) => n.tagName === 'CX-SURVEY').length, 1);

  /* closed: the next route's prompt may show; a 204 shows nothing */
  p.one((n) => n.className === 'x').click();
  await p.advance(0);
  assert.equal(p.host(), null);
  p.sandbox.cx.touch('home');
  await p.advance(0);
  assert.equal(asked.length, 3);
  assert.equal(p.host(), null, '204: no prompt');
  p.sandbox.cx.touch('home');
  await p.advance(0);
  assert.ok(p.host());
  assert.equal(p.calls.filter((c) => c.body && c.body.event === 'display').pop().body.token, 'spa.4');
  assert.deepEqual(p.errors, []);
});

test('cx.touch: an endpoint of another origin or a failed fetch shows nothing and throws nothing', async () => {
  const p = page(null, {
    respond: (call, n) => (n === 1 ? 'neterr' : { ...PROMPT, endpoint: 'https://evil.example/cx/', delay: 0 })
  });
  p.sandbox.location.pathname = '/';
  p.run();
  p.sandbox.cx.touch('home');
  await p.advance(0);
  p.sandbox.cx.touch('home');
  await p.advance(100);
  assert.equal(p.host(), null);
  assert.equal(p.calls.length, 2, 'no answer posted anywhere');
  assert.deepEqual(p.errors, []);
});

/* ---------- preview: the whole exchange, nothing posted ---------- */

test('a preview prompt shows the follow-up and thanks and posts nothing', async () => {
  const p = await shown(Object.assign({}, PROMPT, { preview: true, token: 'preview.0123456789abcdef' }));
  p.button('3').click();
  await p.flush();
  assert.equal(p.one((n) => n.tagName === 'LABEL').textContent, 'What should we do better?');
  p.one((n) => n.tagName === 'TEXTAREA').value = 'a comment';
  p.button('Send').click();
  await p.flush();
  assert.equal(p.one((n) => n.tagName === 'P').textContent, 'Thank you!');
  assert.deepEqual(p.calls, [], 'no request at all');
  assert.deepEqual(p.errors, []);
});
