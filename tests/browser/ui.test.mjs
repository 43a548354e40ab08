// The web UI in a real browser: Debian's headless Chromium driven by playwright-core,
// against the running local stack (`make test` starts it with the e-wallet's delay at 0 s
// and runs this file). Each test seeds a fresh user with the demo set (200 orders), so the
// tests can run again and again against the same stack.
//
//   WEB_URL=... node --test tests/browser/ui.test.mjs     (.local/stack.env has WEB_URL)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WEB_URL = required('WEB_URL');
const API_URL = required('API_URL');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SEED = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'debug', 'seed-demo');
const SHOTS = path.join(root, '.local', 'screenshots');
// The payment answers at once in `make test`, but the emulator's Scheduler fires up to ~5 s
// late and fulfilment adds a few seconds more.
const SETTLE_MS = 90_000;
const TEST_TIMEOUT_MS = 240_000;

let browser;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run \`make test\`, or export .local/stack.env of a running stack`);
  return value;
}

// A user nobody else uses, with the demo set's 200 orders (Amber Espresso Machine #001 at
// 100.99, Amber Milk Frother #002 at 50.11, ...), stored by the order service's own code.
function freshUser() {
  const user = randomUUID();
  execFileSync(SEED, [user], { stdio: ['ignore', 'ignore', 'inherit'] });
  return user;
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // As root there is no sandbox; the rest keeps Chromium off the (closed) network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
});

// A page with the checks every test wants: no script error, no CSP violation, and no
// request to any other origin than the page's own.
async function openPage(t, query, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'en-US', timezoneId: 'UTC' });
  // Every announcement of the live region, kept: a later one replaces the text on screen.
  await context.addInitScript(() => {
    window.announced = [];
    document.addEventListener('DOMContentLoaded', () => {
      const region = document.getElementById('announcer');
      new MutationObserver(() => {
        if (region.textContent) window.announced.push(region.textContent);
      }).observe(region, { childList: true, characterData: true, subtree: true });
    });
  });
  const page = await context.newPage();
  const problems = [];
  const origin = new URL(WEB_URL).origin;
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol !== 'data:' && url.origin !== origin) problems.push(`request to another origin: ${req.url()}`);
  });
  t.after(async () => {
    await context.close();
  });
  page.problems = problems;
  await page.goto(`${WEB_URL}?${new URLSearchParams(query)}`);
  await waitForResults(page);
  return page;
}

const pageInfo = (page) => page.locator('#page-info');
const rowNames = (page) => page.locator('#rows tr[data-id] td.name').allInnerTexts();
const rowIds = (page) => page.locator('#rows tr[data-id]').evaluateAll((rows) => rows.map((r) => r.dataset.id));

async function waitForResults(page) {
  await page.waitForFunction(() => {
    const table = document.getElementById('results');
    return table.getAttribute('aria-busy') === 'false' && /orders?$/.test(document.getElementById('page-info').textContent);
  });
}

async function expectInfo(page, text) {
  await page.waitForFunction((want) => document.getElementById('page-info').textContent === want, text, { timeout: 15_000 })
    .catch(async () => assert.fail(`page info is "${await pageInfo(page).textContent()}", not "${text}"`));
  await waitForResults(page);
}

// Waits until the open order's progress shows each step in the wanted state.
async function expectSteps(page, wanted) {
  await page.waitForFunction((want) => Object.entries(want).every(([step, state]) => {
    const li = document.querySelector(`#detail li[data-step="${step}"]`);
    return li && li.dataset.state === state;
  }), wanted, { timeout: SETTLE_MS, polling: 250 }).catch(async () => {
    const seen = await page.locator('#detail li[data-step]').evaluateAll((lis) => lis.map((li) => `${li.dataset.step}=${li.dataset.state}`));
    assert.fail(`progress is ${seen.join(', ')}, wanted ${JSON.stringify(wanted)}`);
  });
}

async function expectAnnounced(page, pattern) {
  await page.waitForFunction((source) => new RegExp(source).test(window.announced.join(' ')), pattern.source, { timeout: 10_000 })
    .catch(async () => assert.fail(`not announced: ${pattern}; said: ${await page.evaluate(() => window.announced.join(' | '))}`));
}

const detailStatus = (page) => page.locator('#detail .badge').getAttribute('data-status');

// Holds the checkout request back a little, so its in-flight state can be seen.
async function slowCheckout(page, ms = 600) {
  await page.route('**/checkout', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    await route.continue();
  });
}

// `expected`: problems the test caused on purpose (Chromium logs every 404 it is answered).
function noProblems(page, expected = []) {
  assert.deepEqual(page.problems.filter((p) => !expected.some((re) => re.test(p))), []);
}

test('search narrows the results as you type, paging works, and both live in the URL', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const user = freshUser();
  const page = await openPage(t, { user });
  await expectInfo(page, 'page 1 of 20 · 200 orders');
  assert.equal((await rowNames(page)).length, 10);

  await page.locator('#q').pressSequentially('espresso', { delay: 40 });
  await expectInfo(page, 'page 1 of 10 · 100 orders');
  assert.ok((await rowNames(page)).every((name) => name.includes('Espresso')));
  assert.match(page.url(), /[?&]q=espresso/);

  await page.locator('#q').fill('amber');
  await expectInfo(page, 'page 1 of 2 · 20 orders');
  const first = await rowIds(page);
  await page.locator('#next').click();
  await expectInfo(page, 'page 2 of 2 · 20 orders');
  const second = await rowIds(page);
  assert.equal(second.length, 10);
  assert.ok(second.every((id) => !first.includes(id)), 'pages do not overlap');
  assert.ok(await page.locator('#next').isDisabled());
  assert.match(page.url(), /page=2/);

  await page.locator('#size').selectOption('5');
  await expectInfo(page, 'page 1 of 4 · 20 orders');
  assert.equal((await rowNames(page)).length, 5);

  await page.reload();
  await expectInfo(page, 'page 1 of 4 · 20 orders');
  assert.equal(await page.locator('#q').inputValue(), 'amber');

  await page.goBack();
  await expectInfo(page, 'page 2 of 2 · 20 orders');
  assert.equal(await page.locator('#size').inputValue(), '10');
  assert.deepEqual(await rowIds(page), second);

  await page.locator('#q').fill('no such order');
  await expectInfo(page, 'no orders');
  assert.match(await page.locator('#rows').innerText(), /No orders match “no such order”/);

  // Every field has a label.
  const unlabelled = await page.locator('input, select').evaluateAll((els) => els
    .filter((e) => e.labels.length === 0 && !e.getAttribute('aria-label')).map((e) => e.id));
  assert.deepEqual(unlabelled, []);

  await page.locator('#q').fill('amber');
  await expectInfo(page, 'page 1 of 2 · 20 orders');
  await page.screenshot({ path: path.join(SHOTS, 'search.png'), fullPage: true });
  noProblems(page);
});

test('the page is readable at phone width, and a first visit transfers at most 60 kB', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const user = freshUser();
  const page = await openPage(t, { user, q: 'amber espresso' }, { width: 390, height: 844 });
  await expectInfo(page, 'page 1 of 1 · 10 orders');
  // The page and what it loads (not the API's answers), headers included, as Chromium counts it.
  const transferred = await page.evaluate(() => [
    ...performance.getEntriesByType('navigation'),
    ...performance.getEntriesByType('resource').filter((e) => e.initiatorType !== 'fetch'),
  ].reduce((sum, entry) => sum + entry.transferSize, 0));
  t.diagnostic(`first visit: ${transferred} bytes transferred`);
  assert.ok(transferred > 0 && transferred <= 60 * 1024, `${transferred} bytes`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: path.join(SHOTS, 'phone.png'), fullPage: true });
  noProblems(page);
});

test('a .99 order is checked out, paid, and shows its three jobs done; then polling stops', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const user = freshUser();
  const page = await openPage(t, { user, q: 'amber espresso' });
  await expectInfo(page, 'page 1 of 1 · 10 orders');
  const row = page.locator('#rows tr[data-id]', { hasText: 'Amber Espresso Machine #001' });
  assert.match(await row.innerText(), /\$100\.99/);
  const orderId = await row.getAttribute('data-id');

  await slowCheckout(page);
  const button = row.getByRole('button', { name: /^Check out/ });
  await button.click();
  assert.ok(await row.locator('[data-checkout]').isDisabled(), 'disabled while the checkout is in flight');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'detail-title');

  await expectSteps(page, { Payment: 'done' });
  assert.equal(await detailStatus(page), 'PaymentSuccess');
  await expectSteps(page, { Payment: 'done', Production: 'done', Invoice: 'done', Notification: 'done' });
  assert.equal(await row.locator('.badge').getAttribute('data-status'), 'PaymentSuccess');
  assert.equal(await row.locator('[data-checkout]').count(), 0, 'a paid order has no checkout button');
  assert.match(await page.locator('#detail').innerText(), /Production: done/);
  await expectAnnounced(page, /Amber Espresso Machine #001: .*payment succeeded/);
  await expectAnnounced(page, /every step done/);

  // Nothing in flight any more: no more requests for the order.
  const polls = [];
  page.on('request', (req) => { if (req.url().includes(orderId)) polls.push(req.url()); });
  await page.waitForTimeout(3_000);
  assert.deepEqual(polls, []);

  await page.screenshot({ path: path.join(SHOTS, 'checkout-paid.png') });
  noProblems(page);
});

test('a .11 order ends PaymentFailed and can be checked out again', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const user = freshUser();
  const page = await openPage(t, { user, q: 'Amber Milk Frother #002' });
  await expectInfo(page, 'page 1 of 1 · 1 order');
  const row = page.locator('#rows tr[data-id]');
  assert.match(await row.innerText(), /\$50\.11/);

  await row.getByRole('button', { name: /^Check out/ }).click();
  await expectSteps(page, { Payment: 'failed', Production: 'skipped', Invoice: 'skipped', Notification: 'done' });
  assert.equal(await detailStatus(page), 'PaymentFailed');

  // The second attempt is a new payment: the detail names it once it is decided.
  const firstPayment = await page.locator('#detail [data-payment]').getAttribute('data-payment');
  const again = page.locator('#detail').getByRole('button', { name: 'Check out again' });
  const accepted = page.waitForResponse((r) => r.url().endsWith('/checkout') && r.request().method() === 'POST');
  await again.click();
  assert.equal((await accepted).status(), 202);
  await page.waitForFunction((first) => {
    const payment = document.querySelector('#detail [data-payment]');
    const step = (name) => document.querySelector(`#detail li[data-step="${name}"]`)?.dataset.state;
    return payment && payment.dataset.payment !== first && step('Payment') === 'failed' && step('Notification') === 'done';
  }, firstPayment, { timeout: SETTLE_MS, polling: 250 });
  assert.equal(await detailStatus(page), 'PaymentFailed');
  await page.screenshot({ path: path.join(SHOTS, 'checkout-failed.png') });
  noProblems(page);
});

// What another tab of the same user would do: check the order out through the API, and
// wait for its payment to be decided.
async function paidElsewhere(user, orderId) {
  const order = `${API_URL}/api/v1/users/${user}/orders/${orderId}`;
  const response = await fetch(`${order}/checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ paymentProvider: 'Ewallet' }),
  });
  assert.equal(response.status, 202);
  const deadline = Date.now() + SETTLE_MS;
  while (Date.now() < deadline) {
    const view = await (await fetch(order)).json();
    if (view.status !== 'PaymentPending') return view.status;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return assert.fail('the payment was not decided in time');
}

test('a refused checkout shows the reason the API gave, and the order as it now is', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const user = freshUser();
  const page = await openPage(t, { user, q: 'Cobalt Espresso Machine #005' });
  await expectInfo(page, 'page 1 of 1 · 1 order');
  const row = page.locator('#rows tr[data-id]');
  assert.equal(await paidElsewhere(user, await row.getAttribute('data-id')), 'PaymentSuccess');

  // The page still offers the checkout it showed before the order was paid.
  await row.getByRole('button', { name: /^Check out/ }).click();
  await page.waitForFunction(() => /was not checked out: The order is PaymentSuccess and can be checked out only when Created or PaymentFailed\./
    .test(document.getElementById('message').textContent));
  assert.equal(await page.locator('#message').getAttribute('role'), 'alert');
  await page.waitForFunction(() => document.querySelector('#rows .badge').dataset.status === 'PaymentSuccess');
  assert.equal(await row.locator('[data-checkout]').count(), 0);
  noProblems(page, [/status of 409/]);
});

test('a checkout whose payment outcome is unknown (503) says so and continues the same payment', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const user = freshUser();
  const page = await openPage(t, { user, q: 'Denim Espresso Machine #007' });
  await expectInfo(page, 'page 1 of 1 · 1 order');
  const row = page.locator('#rows tr[data-id]');

  // The first answer is lost on its way back, as when the payment service timed out: the
  // checkout went through, but the page is told 503 with Retry-After, as the API says then.
  const answers = [];
  await page.route('**/checkout', async (route) => {
    const real = await route.fetch();
    answers.push(real.status());
    if (answers.length > 1) return route.fulfill({ response: real });
    return route.fulfill({
      status: 503,
      headers: { 'content-type': 'application/problem+json', 'retry-after': '1' },
      body: JSON.stringify({
        type: 'urn:checkout:problem:unavailable', title: 'Service unavailable', status: 503,
        detail: 'The payment was requested, but its outcome is not known yet. Checking out again continues the same payment; it never starts a second one.',
      }),
    });
  });
  await row.getByRole('button', { name: /^Check out/ }).click();
  await page.waitForFunction(() => /outcome is not known yet.*Trying again in 1 s/.test(document.getElementById('message').textContent));
  assert.equal(await page.locator('#rows .badge').getAttribute('data-status'), 'PaymentPending');

  await page.locator('#rows button.link').click();
  await expectSteps(page, { Payment: 'done' });
  assert.equal(await detailStatus(page), 'PaymentSuccess');
  assert.ok(answers.length <= 2 && answers.every((status) => status === 202), `checkout answers: ${answers}`);
  assert.ok(await page.locator('#message').isHidden(), 'the note goes once the outcome is known');
  noProblems(page, [/status of 503/]);
});

test('another user sees none of the first user’s orders', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const first = freshUser();
  const second = freshUser();
  const page = await openPage(t, { user: first, size: '100' });
  await expectInfo(page, 'page 1 of 2 · 200 orders');
  const firstIds = await rowIds(page);

  // Through the picker, as a reviewer would.
  await page.locator('#user').fill(second);
  await page.getByRole('button', { name: 'Switch' }).click();
  await expectInfo(page, 'page 1 of 2 · 200 orders');
  const secondIds = await rowIds(page);
  assert.equal(secondIds.length, 100);
  assert.ok(secondIds.every((id) => !firstIds.includes(id)), 'the second user sees only their own orders');
  assert.match(page.url(), new RegExp(`user=${second}`));

  // The first user's order, asked for as the second: not found, like a missing one.
  await page.goto(`${WEB_URL}?${new URLSearchParams({ user: second, order: firstIds[0] })}`);
  await page.waitForFunction(() => /Order not found/.test(document.getElementById('detail').textContent));

  const nobody = randomUUID();
  await page.locator('#user').fill(nobody);
  await page.locator('#user').press('Enter');
  await expectInfo(page, 'no orders');
  assert.match(await page.locator('#rows').innerText(), /This user has no orders/);
  noProblems(page, [/status of 404/]);
});

test('a keyboard-only user can search and check out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const user = freshUser();
  const page = await openPage(t, { user });
  await expectInfo(page, 'page 1 of 20 · 200 orders');

  const focused = () => page.evaluate(() => {
    const e = document.activeElement;
    return { id: e.id, checkout: e.dataset.checkout || null, outline: getComputedStyle(e).outlineStyle };
  });
  async function tabTo(match, limit = 15) {
    for (let i = 0; i < limit; i += 1) {
      await page.keyboard.press('Tab');
      const now = await focused();
      if (match(now)) return now;
    }
    return assert.fail('the element was not reached with Tab');
  }

  const search = await tabTo((f) => f.id === 'q');
  assert.notEqual(search.outline, 'none', 'the focus is visible');
  await page.keyboard.type('Birch Espresso Machine #003', { delay: 20 });
  await expectInfo(page, 'page 1 of 1 · 1 order');

  const checkout = await tabTo((f) => f.checkout !== null);
  assert.notEqual(checkout.outline, 'none', 'the focus is visible');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'detail-title');
  await expectSteps(page, { Payment: 'done' });
  await expectAnnounced(page, /payment succeeded/);

  // Escape closes the order and gives the focus back to its row.
  await page.keyboard.press('Escape');
  assert.ok(await page.locator('#detail').isHidden());
  assert.equal(await page.evaluate(() => document.activeElement.closest('tr') && document.activeElement.closest('tr').dataset.id !== undefined), true);
  noProblems(page);
});
