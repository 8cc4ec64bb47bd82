/* ngx_cx survey widget, <cx_endpoint>w.js (README: What a page gets, Answers): plain ES2017, shipped as is.
 * No globals; never throws into the page: on any problem it does nothing. */
(function () {
  'use strict';

  var d = document, w = window;

  /* range, then the top of the detractor and of the passive band */
  var SCALES = { nps: [0, 10, 6, 8], csat: [1, 5, 2, 3], ces: [1, 7, 3, 5] };

  /* a constructable sheet: CSP style-src does not block it */
  var CSS =
    ':host{all:initial!important;position:fixed!important;z-index:2147483000!important}' +
    '.c{--b:#fff;--f:#1d1d20;--m:#5f5f66;--l:#8a8a92;--a:#2457d6;position:fixed;right:16px;' +
    'bottom:16px;box-sizing:border-box;width:380px;max-width:calc(100vw - 32px);' +
    'max-height:calc(100vh - 32px);overflow:auto;padding:16px;background:var(--b);' +
    'color:var(--f);border:1px solid var(--l);border-radius:12px;' +
    'box-shadow:0 6px 24px #0003;font:14px/1.45 system-ui,sans-serif}' +
    '.c[dir=rtl],.c.l{right:auto;left:16px}.c.m{right:auto;left:50%;bottom:50%;transform:translate(-50%,50%)}' +
    '@media (max-width:480px){.c,.c[dir=rtl],.c.l,.c.m{left:0;right:0;bottom:0;width:auto;transform:none;' +
    'max-width:none;border-width:1px 0 0;border-radius:12px 12px 0 0;' +
    'padding-bottom:calc(16px + env(safe-area-inset-bottom,0px))}}' +
    '@media (prefers-color-scheme:dark){.c{--b:#1e1f23;--f:#f1f1f4;--m:#b0b0b8;' +
    '--l:#7d7e87;--a:#82a9ff}}' +
    '@media (prefers-reduced-motion:no-preference){.c{animation:i .25s ease-out}}' +
    '@keyframes i{from{opacity:0;transform:translateY(12px)}}' +
    '.q{display:block;margin:0 0 12px;margin-inline-end:32px;font-weight:600;font-size:15px}' +
    'button,textarea{box-sizing:border-box;font:inherit;color:inherit;background:none;' +
    'border:1px solid var(--l);border-radius:6px}' +
    'button{cursor:pointer}button:hover{border-color:var(--a)}' +
    '.s{display:flex;gap:4px}.s button{flex:1 1 0;min-width:0;height:36px;padding:0}' +
    /* fingers: 44px targets; 0-10 wraps to two rows rather than shrink */
    '@media (pointer:coarse){.s{flex-wrap:wrap}.s button{height:44px;min-width:44px}' +
    '.s.n button{flex:1 0 calc((100% - 20px)/6)}}' +
    '.s [aria-checked=true],.a .p{background:var(--a);border-color:var(--a);color:var(--b)}' +
    '.e{display:flex;justify-content:space-between;gap:8px;margin-top:6px;font-size:12px;' +
    'color:var(--m)}' +
    '.x{position:absolute;top:8px;inset-inline-end:8px;width:32px;height:32px;padding:0;' +
    'border:0;font-size:22px;line-height:1;color:var(--m)}' +
    'textarea{display:block;width:100%;min-height:72px;margin:0 0 8px;padding:8px;' +
    'resize:vertical}' +
    '.a{display:flex;justify-content:flex-end;gap:8px}.a button{padding:6px 14px}' +
    ':focus{outline:2px solid var(--a);outline-offset:2px}' +
    ':focus:not(:focus-visible),.t:focus{outline:0}' +
    '.h{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);' +
    'white-space:nowrap}';

  function txt(s) {
    return typeof s == 'string' ? s : '';
  }

  /* wraps every callback: the page's onerror never sees us */
  function safe(f) {
    return function (e) {
      try {
        f(e);
      } catch (x) { /* ignore */ }
    };
  }

  function on(el, type, f) {
    el.addEventListener(type, safe(f));
  }

  function later(f, ms) {
    return setTimeout(safe(f), ms);
  }

  /* text only as textContent, never as markup */
  function h(tag, cls, text, attrs) {
    var e = d.createElement(tag), k;
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    for (k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  /* the tokens this tab answered: a page shown again never asks twice */
  function done(k, add) {
    try {
      var s = w.sessionStorage, l = s.getItem('cx') || '';
      if (add) s.setItem('cx', (l + ' ' + k).slice(-4000));
      return l.indexOf(k) >= 0;
    } catch (x) { /* none */ }
  }

  function start() {
    var el = d.getElementById('cx-prompt');

    /* included twice, still one survey */
    if (!el || el.hasAttribute('data-cx')) return;
    el.setAttribute('data-cx', '');
    run(JSON.parse(el.textContent), el.nonce);
  }

  /* a prompt (the page's, or cx.touch's): one at a time on a page */
  function run(c, nonce) {
    var t = SCALES[c.type], url = new URL(txt(c.endpoint) + 'r', location.href);

    /* the token never leaves the origin */
    if (cx.on || !d.body.attachShadow || !Array.isArray(t) || !txt(c.endpoint) ||
        url.origin !== location.origin || !txt(c.token) || !txt(c.question) || done(c.token)) return;
    cx.on = 1;

    later(function () {
      trigger(c, function () {
        var f = safe(function () {
          if (d.hidden) return;
          d.removeEventListener('visibilitychange', f);
          show(c, t, url.href, nonce);
        });
        /* a hidden tab waits until seen */
        d.addEventListener('visibilitychange', f);
        f();
      });
    }, +c.delay > 0 ? Math.min(+c.delay, 864e5) : 0);
  }

  /* README: Triggers. exit: out by the top (touch: the delay alone); scroll: at % down; idle: ms */
  function trigger(c, go) {
    var k = c.trigger, at = +c.at, l = [], fired, tm;

    function fire() {
      if (!fired) {
        fired = 1;
        clearTimeout(tm);
        l.forEach(function (x) { d.removeEventListener(x[0], x[1], true); });
        go();
      }
    }
    function on2(type, f) {
      l.push([type, f = safe(f)]);
      d.addEventListener(type, f, true);
    }
    function idle() {
      clearTimeout(tm);
      tm = later(fire, at);
    }
    function seen() {
      var r = d.documentElement.scrollHeight - w.innerHeight;
      if (!(r > 0) || w.scrollY * 100 >= r * at) fire();
    }

    if (k == 'exit' && !(w.matchMedia && matchMedia('(pointer:coarse)').matches)) {
      on2('mouseout', function (e) { if (!e.relatedTarget && e.clientY <= 0) fire(); });
    } else if (k == 'scroll' && at > 0 && at <= 100) {
      on2('scroll', seen);
      seen();
    } else if (k == 'idle' && at > 0) {
      'mousemove keydown scroll touchstart pointerdown'.split(' ').forEach(function (x) { on2(x, idle); });
      idle();
    } else fire();
  }

  function show(c, t, url, nonce) {
    var host = h('cx-survey'), sr = host.attachShadow({ mode: 'open' }), rtl = c.dir == 'rtl';
    /* the survey's look: its corner (l left, m middle) and accent (light scheme) */
    var pos = c.position === 'bottom-left' ? ' l' : c.position === 'center' ? ' m' : '';
    var css = CSS + (/^#[0-9a-f]{6}$/i.test(c.color) ? '@media not all and (prefers-color-scheme:dark){.c{--a:' + c.color + '}}' : '');
    var card = h('div', 'c' + pos, '', {
      role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'q', dir: rtl ? 'rtl' : 'ltr'
    });
    var x = h('button', 'x', '\u00d7', { type: 'button', 'aria-label': u('close', 'Close') });
    var body = h('div'), live = h('div', 'h', '', { 'aria-live': 'polite' });
    var group = h('div', 's' + (t[1] - t[0] > 6 ? ' n' : ''), '', { role: 'radiogroup', 'aria-labelledby': 'q' });
    var radios = [], state = 0;   /* 0 asking, 1 answered, 2 thanks, 3 gone */
    var answered;                 /* the answer post; a comment waits for it */
    var back;                     /* page element focused before the card */
    var timer, ta, i, e, s;

    function u(k, def) {
      return txt((c.ui || {})[k]) || def;
    }

    /* network errors and 5xx: 2 quiet retries; 4xx is final; resolves to the status */
    function post(ev, n) {
      ev.token = c.token;
      n = n || 0;
      /* a marketer's preview: the whole exchange, nothing sent */
      if (c.preview) return Promise.resolve(204);
      /* a page's fetch wrapper may throw */
      return Promise.resolve().then(function () {
        return fetch(url, {
          method: 'POST', credentials: 'same-origin', keepalive: true,
          headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(ev)
        });
      }).then(function (r) {
        if (r.status >= 500) throw r;
        return r.status;
      }).catch(function () {
        if (n < 2) {
          return new Promise(function (ok) {
            later(ok, 1000 * (n + 1) * (n + 1));
          }).then(function () {
            return post(ev, n + 1);
          });
        }
        return 0;
      });
    }

    function close() {
      var had = sr.activeElement;
      if (state > 2) return;
      if (!state) {
        post({ event: 'dismiss' });
        done(c.token, 1);
      }
      state = 3;
      cx.on = 0;
      clearTimeout(timer);
      host.remove();
      if (had && back && back.isConnected) back.focus({ preventScroll: true });
    }

    /* new content; says if focus was in the card, to keep it there */
    function step() {
      var had = sr.activeElement;
      body.textContent = '';
      body.append.apply(body, arguments);
      return had;
    }

    /* thanks, or m: the answer was recorded before */
    function thanks(m) {
      var p;
      m = txt(m);
      if (state > (m ? 2 : 1)) return;
      m = m || txt(c.thanks);
      state = 2;
      clearTimeout(timer);
      if (!m) return close();
      p = h('p', 'q t', m, { tabindex: '-1', id: 'q' });
      if (step(p)) p.focus();
      else live.textContent = m;
      timer = later(close, 4000);
    }

    function pick(s) {
      if (state) return;
      state = 1;
      radios[s - t[0]].setAttribute('aria-checked', 'true');
      answered = post({ event: 'answer', score: s });
      /* no follow-up to a refused score: wait for intake (1 s at most) */
      answered.then(safe(function (st) {
        if (st == 409) return thanks(u('recorded', 'Your answer was already recorded.'));
        next(s);
      }));
      done(c.token, 1);
      timer = later(next.bind(null, s), 1000);
    }

    function next(s) {
      var fb = c.followup_by_band || {}, f, a, skip, send;
      if (state != 1 || ta) return;
      clearTimeout(timer);
      f = txt(fb[s <= t[2] ? 'detractor' : s <= t[3] ? 'passive' : 'promoter']) ||
        txt(c.followup);
      if (!f) return thanks();

      ta = h('textarea', '', '', { id: 't', maxlength: '2000', rows: '3' });
      skip = h('button', '', u('skip', 'Skip'), { type: 'button' });
      send = h('button', 'p', u('send', 'Send'), { type: 'button' });
      a = h('div', 'a');
      a.append(skip, send);
      on(skip, 'click', thanks);
      on(send, 'click', function () {
        var v = ta.value.trim();
        if (v) {
          answered.then(function (st) {
            if (st != 409) return post({ event: 'comment', comment: v });
          });
        }
        thanks();
      });
      /* each step's first line names the dialog (aria-labelledby="q") */
      if (step(h('label', 'q', f, { for: 't', id: 'q' }), ta, a)) ta.focus();
    }

    if (txt(c.lang)) card.setAttribute('lang', c.lang);

    /* roving tabindex; arrows only move, as a pick is final; Enter/Space pick */
    for (i = t[0]; i <= t[1]; i++) {
      e = h('button', '', String(i), {
        type: 'button', role: 'radio', 'aria-checked': 'false', tabindex: i > t[0] ? '-1' : '0'
      });
      on(e, 'click', pick.bind(null, i));
      group.appendChild(e);
      radios.push(e);
    }
    on(group, 'keydown', function (e) {
      var k = e.key, n = radios.length, i = radios.indexOf(e.target), j;
      if (rtl && k == 'ArrowLeft') k = 'ArrowRight';
      else if (rtl && k == 'ArrowRight') k = 'ArrowLeft';
      j = k == 'ArrowRight' || k == 'ArrowDown' ? (i + 1) % n :
        k == 'ArrowLeft' || k == 'ArrowUp' ? (i + n - 1) % n :
          k == 'Home' ? 0 : k == 'End' ? n - 1 : -1;
      if (i < 0 || j < 0) return;
      e.preventDefault();
      radios[i].tabIndex = -1;
      radios[j].tabIndex = 0;
      radios[j].focus();
    });

    body.append(h('div', 'q', c.question, { id: 'q' }), group);
    if (u('scale')) {
      group.setAttribute('aria-describedby', 'd');
      card.appendChild(h('div', 'h', u('scale'), { id: 'd' }));
    }
    if (Array.isArray(c.labels) && txt(c.labels[0]) && txt(c.labels[1])) {
      /* read as descriptions of the end scores */
      e = h('div', 'e', '', { 'aria-hidden': 'true' });
      for (i = 0; i < 2; i++) {
        e.appendChild(h('span', '', c.labels[i], { id: 'l' + i }));
        radios[i ? radios.length - 1 : 0].setAttribute('aria-describedby', 'l' + i);
      }
      body.appendChild(e);
    }

    on(x, 'click', close);
    on(card, 'keydown', function (e) {
      if (e.key != 'Escape' || e.isComposing) return;
      e.stopPropagation();
      close();
    });
    on(card, 'focusin', function (e) {
      var r = e.relatedTarget;
      if (r && !card.contains(r)) back = r;
    });
    card.append(x, body, live);

    if ('adoptedStyleSheets' in sr && w.CSSStyleSheet) {
      s = new CSSStyleSheet();
      s.replaceSync(css);
      sr.adoptedStyleSheets = [s];
    } else {
      s = h('style', '', css);
      s.nonce = nonce || '';
      sr.appendChild(s);
    }
    sr.appendChild(card);
    d.body.appendChild(host);
    post({ event: 'display' });

    /* live regions announce only later changes */
    later(function () {
      if (!state) live.textContent = c.question;
    }, 250);
  }

  /*
   * README: Single-page applications. cx.touch(name) on a route change asks
   * <endpoint>p for the touchpoint's prompt: 200 is one, 204 none.
   */
  var me = d.currentScript, cx = w.cx = w.cx || {};
  if (!cx.touch && me && w.fetch) {
    cx.touch = safe(function (name) {
      fetch(me.src.replace(/w\.js([?#].*)?$/, 'p?touchpoint=') + encodeURIComponent(name) +
        '&path=' + encodeURIComponent(location.pathname), { credentials: 'same-origin' })
        .then(function (r) { return r.status == 200 && r.json(); })
        .then(safe(function (c) { if (c) run(c, me.nonce); }))
        .catch(function () { /* none */ });
    });
  }

  /* the module puts #cx-prompt before this script, so it is already parsed */
  if (w.fetch) safe(start)();
})();
