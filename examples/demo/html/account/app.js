/* The demo's single-page application: two routes rendered in the page, no
 * reload between them. On each route change it tells ngx_cx which
 * touchpoint the visitor reached; the module counts the visit and may
 * answer a prompt, which the widget shows (README: Single-page applications). */
'use strict';

var ORDERS = [
  { id: 1001, item: 'Kettle', status: 'On its way: arrives Thursday' },
  { id: 1002, item: 'Mug', status: 'Delivered on Monday' }
];

function el(tag, text, attrs) {
  var e = document.createElement(tag), k;
  if (text) e.textContent = text;
  for (k in attrs || {}) e.setAttribute(k, attrs[k]);
  return e;
}

function render(path) {
  var app = document.getElementById('app'), m = /^\/account\/orders\/(\d+)$/.exec(path), o, ul;
  app.textContent = '';
  if (m) {
    o = ORDERS.filter(function (x) { return String(x.id) === m[1]; })[0];
    app.append(el('h1', 'Order ' + m[1]), el('p', o ? o.item + ': ' + o.status : 'No such order.'),
               el('a', 'All orders', { href: '/account/', 'data-route': '' }));
    return 'order_status';
  }
  ul = el('ul');
  ORDERS.forEach(function (x) {
    var li = el('li');
    li.append(el('a', 'Order ' + x.id + ' (' + x.item + ')', { href: '/account/orders/' + x.id, 'data-route': '' }));
    ul.append(li);
  });
  app.append(el('h1', 'Your orders'), ul);
  return 'account';
}

function go(path, push) {
  var touchpoint = render(path);
  if (push) history.pushState(null, '', path);
  /* the route's visit, and its prompt if one is due */
  if (window.cx && window.cx.touch) window.cx.touch(touchpoint);
}

document.addEventListener('click', function (e) {
  var a = e.target.closest && e.target.closest('a[data-route]');
  if (!a) return;
  e.preventDefault();
  go(a.getAttribute('href'), true);
});
window.addEventListener('popstate', function () { go(location.pathname, false); });
/* the demo's customer is signed in as a gold member (examples/hooks/tier.lua
 * stores the tier with the answer; the dashboard splits by it) */
document.cookie = 'tier=gold; Path=/; SameSite=Lax';
/* the first route is rendered here; the page load itself was a visit */
render(location.pathname);
