/**
 * The stats page (issue 12 item 4) in a real headless Chromium (Debian's chromium, driven by
 * playwright-core): it renders the farm's servers, logs in with the token (HttpOnly,
 * SameSite=Strict cookie), and a click on "drain" really drains the server (checked through the
 * API with Bearer). `LONGHAUL_SCREENSHOT=1` refreshes docs/stats-page.png (shown in the README).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { startHarness } from '../helpers/harness.js';
import { until } from '../helpers/until.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'page-test-token-1234';

t.test('stats page in headless Chromium: login, servers rendered, drain click drains', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (Debian package chromium; .ci/run installs it)` }, async (t) => {
  const { chromium } = await import('playwright-core');
  const dir = mkdtempSync(path.join(tmpdir(), 'longhaul-page-'));
  const tokenFile = path.join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const h = await startHarness({ servers: 2, admin: { tokenFile } });
  t.teardown(() => h.close());
  for (let i = 0; i < 4; i++) await oneShotRequest({ host: '127.0.0.1', port: h.port, path: '/hello', ca: h.pki.pki.ca.certPem, servername: 'localhost' });
  const base = `http://127.0.0.1:${h.gateway.admin!.port}`;

  // Basic auth (a browser's dialog: any user, password = token) and Bearer reach the page; nothing else does.
  const basic = (pw: string) => ({ authorization: `Basic ${Buffer.from(`ops:${pw}`).toString('base64')}` });
  t.equal((await fetch(`${base}/`, { headers: basic(TOKEN) })).status, 200, 'Basic with the token');
  t.equal((await fetch(`${base}/`, { headers: basic('wrong'), redirect: 'manual' })).status, 303, 'Basic with a wrong password: to the login form');
  t.equal((await fetch(`${base}/stats`, { headers: basic('wrong') })).status, 401, 'and no stats');
  const anon = await fetch(`${base}/`, { redirect: 'manual' });
  t.equal(anon.status, 303, 'no credentials: to the login form');
  t.equal(anon.headers.get('location'), '/login');
  const dialog = await fetch(`${base}/basic`, { redirect: 'manual' });
  t.equal(dialog.status, 401);
  t.match(dialog.headers.get('www-authenticate') ?? '', /^Basic /, '/basic challenges with Basic');
  t.equal((await fetch(`${base}/basic`, { headers: basic(TOKEN), redirect: 'manual' })).status, 303, '/basic with the token: to the page');
  t.equal((await fetch(`${base}/stats`, { headers: basic(TOKEN) })).status, 200);
  const apiAnon = await fetch(`${base}/stats`);
  t.match(apiAnon.headers.get('www-authenticate') ?? '', /^Bearer /, 'the API keeps Bearer');

  const userDataDir = mkdtempSync(path.join(tmpdir(), 'longhaul-chromium-'));
  const ctx = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1500, height: 520 },
  });
  t.teardown(() => ctx.close());
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // No credentials: redirected to the login form.
  const first = await page.goto(`${base}/`);
  t.equal(first?.status(), 200);
  t.equal(page.url(), `${base}/login`);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  const cookies = await ctx.cookies(base);
  const session = cookies.find((c) => c.name === 'longhaul_admin');
  t.ok(session, 'login set the session cookie');
  t.equal(session?.httpOnly, true, 'HttpOnly');
  t.equal(session?.sameSite, 'Strict', 'SameSite=Strict');
  t.not(session?.value, TOKEN, 'the cookie does not carry the token');

  await page.waitForSelector('table[data-farm="farm"] tr[data-server="s2"]');
  const rows = await page.$$eval('table[data-farm="farm"] tr[data-server]', (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.server, (tr as HTMLElement).dataset.state]));
  t.same(rows, [['s1', 'UP'], ['s2', 'UP']], 'both servers rendered, UP');
  const requests = await page.$eval('table[data-farm="farm"] tr[data-server="s1"]', (tr) => tr.textContent ?? '');
  t.ok(requests.length > 0);

  await page.click('table[data-farm="farm"] tr[data-server="s1"] button[data-action="drain"]');
  const api = async () => {
    const r = await fetch(`${base}/servers/farm/s1`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return ((await r.json()) as { server: { state: string } }).server.state;
  };
  await until(() => h.gateway.farms.get('farm')!.servers[0]!.snapshot().state === 'DRAIN', 's1 drained by the click', 400);
  t.equal(await api(), 'DRAIN', 'the click drained s1 (seen through the API)');
  await page.waitForSelector('tr[data-server="s1"][data-state="DRAIN"]', { timeout: 10_000 });
  t.pass('the page shows s1 DRAIN after its refresh');
  // LONGHAUL_SCREENSHOT=1 refreshes the README's picture; otherwise it goes to the temp dir.
  const shot = process.env.LONGHAUL_SCREENSHOT === '1' ? path.resolve('docs/stats-page.png') : path.join(dir, 'stats-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.ok(existsSync(shot), 'screenshot written');
  t.same(errors, [], 'no script error on the page');
});
