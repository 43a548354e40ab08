// The orders page: search as you type, page through the results, check an order out and
// watch its payment and fulfilment as they happen. No framework and no build step: the
// web function serves this file as it is.
'use strict';

(() => {
  const DEMO_USER = '5a2fb4b2-f281-4c64-8bbc-ec3500b40c76';
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const PAGE_SIZES = [5, 10, 20, 50, 100];
  const DEFAULT_SIZE = 10;
  const DEBOUNCE_MS = 250;
  const POLL_MS = 1000;
  // A decided payment gets its fulfilment process within seconds; an order decided longer
  // ago without one (decided before fulfilment existed) is not waited for.
  const PROCESS_GRACE_MS = 60000;
  // How often a checkout whose payment outcome is unknown (503) is continued by itself.
  const MAX_CHECKOUT_RETRIES = 3;

  const STATUS_LABELS = {
    Created: 'Created',
    PaymentPending: 'Payment pending',
    PaymentSuccess: 'Paid',
    PaymentFailed: 'Payment failed',
    Cancelled: 'Cancelled',
    Delivered: 'Delivered',
  };
  const PAYABLE = new Set(['Created', 'PaymentFailed']);
  const JOBS = [
    ['Production', 'Production'],
    ['Invoice', 'Invoice'],
    ['Notification', 'E-mail'],
  ];

  // The API sits beside the page. Its base is where this script came from, one level up:
  // the API's root on AWS, /_aws/execute-api/<apiId>/ under the local emulator. So every
  // call is relative to it, never rooted at the host.
  const base = new URL('../', document.currentScript.src);

  const $ = (id) => document.getElementById(id);
  const el = {
    userForm: $('user-form'), user: $('user'), userHint: $('user-hint'), demoUser: $('demo-user'),
    searchForm: $('search-form'), q: $('q'), size: $('size'),
    message: $('message'), table: $('results'), rows: $('rows'),
    prev: $('prev'), next: $('next'), pageInfo: $('page-info'),
    detail: $('detail'), announcer: $('announcer'),
  };

  // ---------------------------------------------------------------- state and the URL

  const state = { user: DEMO_USER, q: '', page: 1, size: DEFAULT_SIZE, open: null };
  const orders = new Map(); // id -> the latest view of each order shown
  let pagination = null;
  let pageIds = [];

  function readUrl() {
    const p = new URLSearchParams(location.search);
    const user = (p.get('user') || '').trim();
    const page = Number.parseInt(p.get('page') || '1', 10);
    const size = Number.parseInt(p.get('size') || String(DEFAULT_SIZE), 10);
    const open = p.get('order');
    state.user = UUID.test(user) ? user.toLowerCase() : DEMO_USER;
    state.q = p.get('q') || '';
    state.page = Number.isInteger(page) && page >= 1 ? page : 1;
    state.size = PAGE_SIZES.includes(size) ? size : DEFAULT_SIZE;
    state.open = open && UUID.test(open) ? open.toLowerCase() : null;
  }

  function writeUrl(push) {
    const p = new URLSearchParams();
    if (state.user !== DEMO_USER) p.set('user', state.user);
    if (state.q) p.set('q', state.q);
    if (state.page > 1) p.set('page', String(state.page));
    if (state.size !== DEFAULT_SIZE) p.set('size', String(state.size));
    if (state.open) p.set('order', state.open);
    const query = p.toString();
    const url = location.pathname + (query ? `?${query}` : '');
    if (url === location.pathname + location.search) return;
    history[push ? 'pushState' : 'replaceState'](null, '', url);
  }

  function syncInputs() {
    el.user.value = state.user;
    el.user.removeAttribute('aria-invalid');
    el.userHint.classList.remove('error');
    el.userHint.textContent = state.user === DEMO_USER
      ? 'The demo user. Any user id (a UUID) can be used.'
      : 'Another user: only their own orders are shown.';
    if (document.activeElement !== el.q) el.q.value = state.q;
    el.size.value = String(state.size);
  }

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, detail, retryAfter) {
      super(detail);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  const userPath = () => `api/v1/users/${encodeURIComponent(state.user)}/orders`;
  const orderPath = (id) => `${userPath()}/${encodeURIComponent(id)}`;

  // Answers the JSON body, or throws an ApiError carrying the problem+json `detail`.
  async function api(path, init = {}) {
    let response;
    try {
      response = await fetch(new URL(path, base), {
        ...init,
        headers: { accept: 'application/json, application/problem+json', ...init.headers },
      });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError(0, 'The service cannot be reached. Check the connection and try again.');
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const detail = body && typeof body.detail === 'string' ? body.detail : `The service answered ${response.status}.`;
      const retryAfter = Number.parseInt(response.headers.get('retry-after') || '', 10);
      throw new ApiError(response.status, detail, Number.isFinite(retryAfter) ? retryAfter : null);
    }
    return body;
  }

  // ---------------------------------------------------------------- formatting

  const moneyFormats = new Map();
  function money(amount, currency) {
    if (!moneyFormats.has(currency)) {
      let format = null;
      try {
        format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
      } catch {
        // An unknown code: shown as it is, after the number.
      }
      moneyFormats.set(currency, format);
    }
    const format = moneyFormats.get(currency);
    return format ? format.format(amount) : `${Number(amount).toFixed(2)} ${currency}`;
  }

  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

  function time(iso, format = dateTime) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return document.createTextNode('');
    return h('time', { datetime: iso }, format.format(date));
  }

  const statusLabel = (status) => STATUS_LABELS[status] || status;

  // A small element builder: text children are text nodes, so names are never parsed as HTML.
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // ---------------------------------------------------------------- announcements

  let announceQueue = [];
  let announceTimer = null;
  // Status changes are spoken through one polite live region, batched so a burst of
  // changes is read as one sentence rather than cut short.
  function announce(text) {
    announceQueue.push(text);
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      el.announcer.textContent = '';
      const message = announceQueue.join(' ');
      announceQueue = [];
      setTimeout(() => { el.announcer.textContent = message; }, 50);
    }, 150);
  }

  function describeChanges(before, after) {
    const said = [];
    if (!before || before.status !== after.status) {
      if (after.status === 'PaymentPending') said.push('payment pending');
      else if (after.status === 'PaymentSuccess') said.push('payment succeeded');
      else if (after.status === 'PaymentFailed') said.push('payment failed, it can be checked out again');
    }
    const jobsBefore = new Map(((before && before.process && before.process.jobs) || []).map((j) => [j.jobType, j.status]));
    for (const job of (after.process && after.process.jobs) || []) {
      if (jobsBefore.get(job.jobType) === job.status) continue;
      const label = jobLabel(job.jobType).toLowerCase();
      if (job.status === 'Completed') said.push(job.jobType === 'Notification' ? 'e-mail sent' : `${label} done`);
      else if (job.status === 'Error') said.push(`${label} failed`);
    }
    if (after.process && after.process.status === 'Completed'
      && !(before && before.process && before.process.status === 'Completed')) {
      said.push('every step done');
    }
    return said.length ? `${after.name}: ${said.join(', ')}.` : null;
  }

  const jobLabel = (type) => (JOBS.find(([t]) => t === type) || [type, type])[1];

  // ---------------------------------------------------------------- messages

  function showMessage(text, { kind = 'error', retry = null } = {}) {
    el.message.replaceChildren(h('span', null, text));
    el.message.classList.toggle('info', kind === 'info');
    if (retry) {
      const button = h('button', { type: 'button' }, 'Try again');
      button.addEventListener('click', retry);
      el.message.append(button);
    }
    const dismiss = h('button', { type: 'button', 'aria-label': 'Dismiss this message' }, 'Dismiss');
    dismiss.addEventListener('click', hideMessage);
    el.message.append(dismiss);
    el.message.hidden = false;
  }

  function hideMessage() {
    el.message.hidden = true;
    el.message.replaceChildren();
  }

  // ---------------------------------------------------------------- search and paging

  let searchSeq = 0;
  let searchAbort = null;
  let busyTimer = null;

  async function search() {
    const seq = ++searchSeq;
    if (searchAbort) searchAbort.abort();
    searchAbort = new AbortController();
    el.table.setAttribute('aria-busy', 'true');
    // Only a slow answer says so: a fast one would only flicker.
    clearTimeout(busyTimer);
    busyTimer = setTimeout(() => { el.pageInfo.textContent = 'Loading…'; }, 300);
    try {
      const body = await api(`${userPath()}?${searchQuery()}`, { signal: searchAbort.signal });
      if (seq !== searchSeq) return;
      const last = Math.max(1, body.pagination.totalPages);
      if (state.page > last) {
        // Fewer results than before (a narrower search, or orders gone): show the last page.
        state.page = last;
        writeUrl(false);
        search();
        return;
      }
      if (!el.message.dataset.order) hideMessage();
      renderResults(body);
    } catch (err) {
      if (err.name === 'AbortError' || seq !== searchSeq) return;
      pagination = null;
      pageIds = [];
      el.rows.replaceChildren(placeholder('The orders could not be loaded.'));
      renderPager();
      showMessage(`Could not load the orders: ${err.message}`, { retry: () => { hideMessage(); search(); } });
    } finally {
      if (seq === searchSeq) {
        clearTimeout(busyTimer);
        el.table.setAttribute('aria-busy', 'false');
      }
    }
  }

  function searchQuery() {
    return new URLSearchParams({ name: state.q, page: String(state.page), pageSize: String(state.size) }).toString();
  }

  function placeholder(text) {
    return h('tr', { class: 'placeholder' }, h('td', { colspan: '5' }, text));
  }

  function renderResults(body) {
    pagination = body.pagination;
    pageIds = body.data.map((o) => o.id);
    for (const order of body.data) remember(order);
    if (body.data.length === 0) {
      el.rows.replaceChildren(placeholder(state.q
        ? `No orders match “${state.q}”.`
        : 'This user has no orders.'));
    } else {
      el.rows.replaceChildren(...body.data.map((o) => row(orders.get(o.id))));
    }
    renderPager();
    for (const order of body.data) watchIfInFlight(order);
  }

  function renderPager() {
    const p = pagination;
    el.prev.disabled = !p || p.currentPage <= 1;
    el.next.disabled = !p || p.currentPage >= p.totalPages;
    if (!p) {
      el.pageInfo.textContent = '';
      return;
    }
    const noun = p.totalRecords === 1 ? 'order' : 'orders';
    el.pageInfo.textContent = p.totalRecords === 0
      ? 'no orders'
      : `page ${p.currentPage} of ${p.totalPages} · ${p.totalRecords} ${noun}`;
  }

  function goToPage(page, from) {
    state.page = page;
    typing = false;
    writeUrl(true);
    search().then(() => {
      // A pager button that became disabled has lost the focus: hand it to the other one.
      if (from && from.disabled) (from === el.next ? el.prev : el.next).focus();
    });
  }

  // ---------------------------------------------------------------- the table

  function row(order) {
    const tr = h('tr', { 'data-id': order.id, class: order.id === state.open ? 'current' : null });
    fillRow(tr, order);
    return tr;
  }

  function fillRow(tr, order) {
    const open = h('button', { type: 'button', class: 'link', 'aria-controls': 'detail' }, order.name);
    open.addEventListener('click', () => openDetail(order.id, { focus: true }));
    tr.replaceChildren(
      h('td', { class: 'name', 'data-label': 'Name' }, open),
      h('td', { class: 'num', 'data-label': 'Amount' }, money(order.totalAmount, order.currency)),
      h('td', { 'data-label': 'Status' }, statusBadge(order), progressNote(order)),
      h('td', { 'data-label': 'Created' }, time(order.createdAtUtc)),
      h('td', { class: 'action' }, checkoutControl(order, 'row')),
    );
  }

  function statusBadge(order) {
    return h('span', { class: 'badge', 'data-status': order.status }, statusLabel(order.status));
  }

  function progressNote(order) {
    const jobs = (order.process && order.process.jobs) || [];
    if (!jobs.length) return null;
    const done = jobs.filter((j) => j.status === 'Completed').length;
    const failed = jobs.some((j) => j.status === 'Error');
    const text = failed ? 'a step failed' : `${done} of ${jobs.length} ${jobs.length === 1 ? 'step' : 'steps'} done`;
    return h('span', { class: 'sub' }, text);
  }

  // The button on payable orders; disabled while its request is in flight.
  function checkoutControl(order, where) {
    if (!PAYABLE.has(order.status) && !checkingOut.has(order.id)) return null;
    const busy = checkingOut.has(order.id);
    const again = order.status === 'PaymentFailed';
    const button = h('button', {
      type: 'button',
      class: 'primary',
      'data-checkout': order.id,
      'data-where': where,
      disabled: busy,
      'aria-label': where === 'row' ? `${again ? 'Check out again' : 'Check out'}: ${order.name}` : null,
    }, busy ? 'Checking out…' : again ? 'Check out again' : 'Check out');
    button.addEventListener('click', () => checkout(order.id, where));
    return button;
  }

  function refreshOrder(order) {
    const tr = el.rows.querySelector(`tr[data-id="${CSS.escape(order.id)}"]`);
    if (tr) {
      const hadFocus = tr.contains(document.activeElement) ? document.activeElement : null;
      const focusCheckout = hadFocus && hadFocus.dataset.checkout;
      fillRow(tr, order);
      // Keep a keyboard user where they were when the row is redrawn under them.
      if (hadFocus) {
        const target = (focusCheckout && tr.querySelector('[data-checkout]')) || tr.querySelector('button.link');
        if (target) target.focus();
      }
    }
    if (state.open === order.id) renderDetail(order);
  }

  function remember(order) {
    const before = orders.get(order.id);
    orders.set(order.id, order);
    return before;
  }

  // ---------------------------------------------------------------- the order's detail

  function openDetail(id, { focus = false, push = true } = {}) {
    state.open = id;
    if (push) writeUrl(true);
    for (const tr of el.rows.querySelectorAll('tr[data-id]')) tr.classList.toggle('current', tr.dataset.id === id);
    const known = orders.get(id);
    if (known) renderDetail(known);
    else {
      el.detail.replaceChildren(h('p', null, 'Loading the order…'));
      showDetail();
    }
    if (focus) focusDetail();
    // Always read it fresh: the search page may be older than the order.
    fetchOrder(id).then((order) => {
      if (order && state.open === id) {
        if (!known && focus) focusDetail();
      }
    });
  }

  function focusDetail() {
    const title = el.detail.querySelector('h2');
    (title || el.detail).focus();
  }

  function showDetail() {
    el.detail.hidden = false;
    el.detail.parentElement.classList.add('open');
  }

  function closeDetail({ push = true } = {}) {
    const id = state.open;
    state.open = null;
    el.detail.hidden = true;
    el.detail.replaceChildren();
    el.detail.parentElement.classList.remove('open');
    for (const tr of el.rows.querySelectorAll('tr.current')) tr.classList.remove('current');
    if (push) writeUrl(true);
    const back = id && el.rows.querySelector(`tr[data-id="${CSS.escape(id)}"] button.link`);
    if (back) back.focus();
    else el.q.focus();
  }

  function renderDetail(order) {
    const hadFocus = el.detail.contains(document.activeElement) ? document.activeElement : null;
    const focusKey = hadFocus && (hadFocus.dataset.checkout ? 'checkout' : hadFocus.dataset.close ? 'close' : hadFocus.tagName === 'H2' ? 'title' : null);
    const close = h('button', { type: 'button', 'data-close': 'true', 'aria-label': 'Close the order' }, 'Close');
    close.addEventListener('click', () => closeDetail());
    const items = order.orderDetails || [];
    el.detail.replaceChildren(
      h('header', null, h('h2', { id: 'detail-title', tabindex: '-1' }, order.name), close),
      h('dl', null,
        h('dt', null, 'Status'), h('dd', null, statusBadge(order)),
        h('dt', null, 'Amount'), h('dd', null, money(order.totalAmount, order.currency)),
        h('dt', null, 'Created'), h('dd', null, time(order.createdAtUtc)),
        h('dt', null, 'Updated'), h('dd', null, time(order.updatedAtUtc)),
        h('dt', null, 'Payment'), h('dd', null, paymentText(order)),
        h('dt', null, 'Order id'), h('dd', { class: 'mono' }, order.id)),
      h('div', { class: 'actions' }, checkoutControl(order, 'detail')),
      h('h3', null, 'Items'),
      h('div', { class: 'scroll' }, h('table', null,
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Product'),
          h('th', { scope: 'col', class: 'num' }, 'Unit price'),
          h('th', { scope: 'col', class: 'num' }, 'Qty'),
          h('th', { scope: 'col', class: 'num' }, 'Line total'))),
        h('tbody', null, items.map((item) => h('tr', null,
          h('td', null, item.productName),
          h('td', { class: 'num' }, money(item.unitPrice, order.currency)),
          h('td', { class: 'num' }, item.quantity),
          h('td', { class: 'num' }, money(item.unitPrice * item.quantity, order.currency))))),
        h('tfoot', null, h('tr', null,
          h('td', { colspan: '3' }, 'Total'),
          h('td', { class: 'num' }, money(order.totalAmount, order.currency)))))),
      h('h3', null, 'Progress'),
      h('ol', { class: 'timeline', 'aria-label': 'Progress of the order' }, steps(order).map(step)),
    );
    showDetail();
    if (focusKey === 'checkout') (el.detail.querySelector('[data-checkout]') || el.detail.querySelector('h2')).focus();
    else if (focusKey === 'close') close.focus();
    else if (focusKey === 'title') el.detail.querySelector('h2').focus();
  }

  function paymentText(order) {
    if (!order.paymentId) return 'Not checked out yet';
    const what = {
      PaymentPending: 'E-wallet, waiting for its answer',
      PaymentSuccess: 'E-wallet, paid',
      PaymentFailed: 'E-wallet, not paid',
    }[order.status] || 'E-wallet';
    return h('span', null, `${what} · `, h('span', { class: 'mono', 'data-payment': order.paymentId }, order.paymentId));
  }

  // The payment, then each follow-up job, with what it is doing and since when.
  function steps(order) {
    const process = order.process;
    const decidedAt = process ? process.createdAtUtc : order.updatedAtUtc;
    const list = [];
    if (order.status === 'PaymentPending') {
      list.push({ key: 'Payment', what: 'Payment', state: 'active', text: 'waiting for the e-wallet', at: order.updatedAtUtc });
    } else if (order.status === 'PaymentSuccess') {
      list.push({ key: 'Payment', what: 'Payment', state: 'done', text: 'paid', at: decidedAt });
    } else if (order.status === 'PaymentFailed') {
      list.push({ key: 'Payment', what: 'Payment', state: 'failed', text: 'failed', at: decidedAt });
    } else {
      list.push({ key: 'Payment', what: 'Payment', state: 'waiting', text: 'not checked out yet' });
    }
    const jobs = new Map(((process && process.jobs) || []).map((j) => [j.jobType, j]));
    for (const [type, label] of JOBS) {
      const job = jobs.get(type);
      if (job) {
        const text = { Completed: 'done', Error: 'failed', Queued: 'in progress', NotStarted: 'not started' }[job.status] || job.status;
        const state = { Completed: 'done', Error: 'failed' }[job.status] || 'active';
        list.push({ key: type, what: label, state, text, at: job.updatedAtUtc, note: job.note });
      } else if (order.status === 'PaymentFailed' && type !== 'Notification') {
        list.push({ key: type, what: label, state: 'skipped', text: 'not needed: the payment failed' });
      } else if (order.status === 'PaymentSuccess' || order.status === 'PaymentFailed') {
        list.push({ key: type, what: label, state: 'waiting', text: 'about to start' });
      } else {
        list.push({ key: type, what: label, state: 'waiting', text: 'after the payment' });
      }
    }
    return list;
  }

  function step(s) {
    return h('li', { 'data-step': s.key, 'data-state': s.state },
      h('span', { class: 'what' }, s.what), ': ', h('span', { class: 'state' }, s.text),
      s.at ? h('span', { class: 'when' }, ' · ', time(s.at, timeOnly)) : null,
      s.note ? h('span', { class: 'sub' }, s.note) : null);
  }

  // ---------------------------------------------------------------- checkout

  const checkingOut = new Set();
  const checkoutRetries = new Map();

  async function checkout(id, where) {
    const order = orders.get(id);
    if (!order || checkingOut.has(id)) return;
    checkingOut.add(id);
    refreshOrder(order);
    if (el.message.dataset.order === id) { delete el.message.dataset.order; hideMessage(); }
    let accepted = null;
    try {
      accepted = await api(`${orderPath(id)}/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ paymentProvider: 'Ewallet' }),
      });
    } catch (err) {
      checkingOut.delete(id);
      checkoutRefused(order, err, where);
      return;
    }
    checkingOut.delete(id);
    checkoutRetries.delete(id);
    const pending = { ...order, status: accepted.status || 'PaymentPending', paymentId: accepted.paymentId, process: undefined, updatedAtUtc: new Date().toISOString() };
    update(pending);
    // The user's attention follows the order: its progress is in the detail.
    if (state.open !== id) openDetail(id, { focus: true });
    else focusDetail();
    watch(id);
  }

  function checkoutRefused(order, err, where) {
    const id = order.id;
    if (err.status === 503 && err.retryAfter !== null) {
      // The payment was asked for but its outcome is not known: the order keeps waiting,
      // and checking out again continues the same payment (never a second one).
      const tries = (checkoutRetries.get(id) || 0) + 1;
      checkoutRetries.set(id, tries);
      update({ ...order, status: 'PaymentPending', updatedAtUtc: new Date().toISOString() });
      const retry = tries <= MAX_CHECKOUT_RETRIES;
      noteFor(id, retry
        ? `${order.name}: ${err.message} Trying again in ${err.retryAfter} s.`
        : `${order.name}: ${err.message} Its status below updates by itself.`, 'info');
      if (retry) {
        setTimeout(() => {
          const now = orders.get(id);
          if (now && now.status === 'PaymentPending') checkout(id, where);
        }, err.retryAfter * 1000);
      }
      watch(id);
      return;
    }
    checkoutRetries.delete(id);
    refreshOrder(order);
    noteFor(id, `${order.name} was not checked out: ${err.message}`, 'error');
    const button = (where === 'detail' ? el.detail : el.rows.querySelector(`tr[data-id="${CSS.escape(id)}"]`));
    const again = button && button.querySelector('[data-checkout]');
    if (again) again.focus();
    // The refusal may mean the order changed elsewhere (paid in another tab): show it as it is.
    fetchOrder(id);
  }

  function noteFor(id, text, kind) {
    showMessage(text, { kind });
    el.message.dataset.order = id;
  }

  // ---------------------------------------------------------------- live progress

  const watched = new Set();
  let pollTimer = null;

  function inFlight(order) {
    if (checkingOut.has(order.id) || order.status === 'PaymentPending') return true;
    if (order.status !== 'PaymentSuccess' && order.status !== 'PaymentFailed') return false;
    if (!order.process) return Date.now() - Date.parse(order.updatedAtUtc) < PROCESS_GRACE_MS;
    return order.process.status === 'Pending';
  }

  function watch(id) {
    watched.add(id);
    if (!pollTimer) pollTimer = setTimeout(poll, POLL_MS);
  }

  function watchIfInFlight(order) {
    if (inFlight(order)) watch(order.id);
  }

  // Polls every order in flight once a second; stops when none is. Several in flight on
  // the page shown are read with one search, so a page of orders being paid costs one
  // request a second (the public API is throttled), not one per order.
  async function poll() {
    pollTimer = null;
    if (document.hidden) return; // resumed by visibilitychange
    const ids = [...watched];
    const onPage = ids.filter((id) => pageIds.includes(id));
    const byPage = onPage.length > 1;
    const alone = byPage ? ids.filter((id) => !pageIds.includes(id)) : ids;
    await Promise.all([byPage ? refreshPage() : null, ...alone.map((id) => fetchOrder(id))]);
    for (const id of [...watched]) {
      const order = orders.get(id);
      if (!order || !inFlight(order)) watched.delete(id);
    }
    if (watched.size && !pollTimer) pollTimer = setTimeout(poll, POLL_MS);
  }

  async function refreshPage() {
    const user = state.user;
    const query = searchQuery();
    try {
      const body = await api(`${userPath()}?${query}`);
      if (user !== state.user || query !== searchQuery()) return;
      for (const order of body.data) if (pageIds.includes(order.id)) update(order);
    } catch {
      // Passing: the next poll tries again.
    }
  }

  async function fetchOrder(id) {
    const user = state.user;
    try {
      const order = await api(orderPath(id));
      if (user !== state.user) return null;
      update(order);
      return order;
    } catch (err) {
      if (user !== state.user) return null;
      if (err.status === 404) {
        watched.delete(id);
        if (state.open === id) {
          el.detail.replaceChildren(
            h('h2', { id: 'detail-title', tabindex: '-1' }, 'Order not found'),
            h('p', null, err.message));
          showDetail();
        }
      }
      // Anything else is passing: the next poll tries again.
      return null;
    }
  }

  function update(order) {
    const before = remember(order);
    const said = describeChanges(before, order);
    if (said && before) announce(said);
    refreshOrder(order);
    if (before && before.status !== order.status && el.message.dataset.order === order.id && el.message.classList.contains('info')) {
      delete el.message.dataset.order;
      hideMessage();
    }
  }

  // ---------------------------------------------------------------- wiring

  let debounce = null;
  let typing = false; // one history entry per burst of typing, not one per pause

  function applySearch() {
    clearTimeout(debounce);
    const q = el.q.value.trim();
    if (q === state.q) return;
    state.q = q;
    state.page = 1;
    writeUrl(!typing);
    typing = true;
    search();
  }

  el.q.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(applySearch, DEBOUNCE_MS);
  });
  el.q.addEventListener('blur', () => { typing = false; });
  el.searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    applySearch();
  });
  el.size.addEventListener('change', () => {
    state.size = Number.parseInt(el.size.value, 10) || DEFAULT_SIZE;
    state.page = 1;
    typing = false;
    writeUrl(true);
    search();
  });
  el.prev.addEventListener('click', () => goToPage(Math.max(1, state.page - 1), el.prev));
  el.next.addEventListener('click', () => goToPage(state.page + 1, el.next));

  function switchUser(user) {
    if (user === state.user) return;
    state.user = user;
    state.page = 1;
    orders.clear();
    watched.clear();
    if (state.open) closeDetail({ push: false });
    hideMessage();
    writeUrl(true);
    syncInputs();
    announce(user === DEMO_USER ? 'Showing the demo user’s orders.' : 'Showing the orders of the chosen user.');
    search();
  }

  el.userForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const user = el.user.value.trim().toLowerCase();
    if (!UUID.test(user)) {
      el.user.setAttribute('aria-invalid', 'true');
      el.userHint.classList.add('error');
      el.userHint.textContent = 'A user id is a UUID, like 5a2fb4b2-f281-4c64-8bbc-ec3500b40c76.';
      el.user.focus();
      return;
    }
    switchUser(user);
  });
  el.demoUser.addEventListener('click', () => switchUser(DEMO_USER));

  el.detail.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeDetail();
  });
  document.addEventListener('keydown', (event) => {
    const field = event.target.closest && event.target.closest('input, select, textarea');
    if (event.key === '/' && !field && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      el.q.focus();
      el.q.select();
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && watched.size && !pollTimer) poll();
  });

  window.addEventListener('popstate', () => {
    const userBefore = state.user;
    readUrl();
    typing = false;
    if (userBefore !== state.user) { orders.clear(); watched.clear(); hideMessage(); }
    syncInputs();
    el.q.value = state.q;
    search();
    if (state.open) openDetail(state.open, { push: false });
    else if (!el.detail.hidden) closeDetail({ push: false });
  });

  readUrl();
  syncInputs();
  writeUrl(false); // drops whatever the URL had that is not valid
  search();
  if (state.open) openDetail(state.open, { push: false });
})();
