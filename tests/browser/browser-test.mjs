// browser-test.mjs GATEWAY_BIN - the gateway in a real browser (Debian's
// /usr/bin/chromium, headless, driven by playwright-core):
//   1. a page from an allowed loopback origin logs on, reads /status and
//      /identity, and logs off through fetch() with CORS;
//   2. a page from a disallowed origin is blocked;
//   3. the console at / clicked through at 390 px (console-test.mjs), with
//      screenshots of each step;
//   4. the API docs at /docs render from the gateway alone.
// Every page load fails the test on a request to any other origin, a CSP
// violation or an uncaught page error. Prints "browser-test: N passed, M failed".
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleWalkthrough, seedDemo } from './console-test.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = path.resolve(process.argv[2] || process.env.MAPIGW_BIN || path.join(root, 'build/release/mapigw'));
// Screenshots go with the test logs when a run names them.
const shotDir = process.env.MAPIGW_TEST_LOGS ? path.join(path.resolve(process.env.MAPIGW_TEST_LOGS), 'browser')
  : path.join(root, 'build/browser');
const PROFILE = 'demo', PASSWORD = 'demo'; // server/profiles.default.json

// ---- a tiny static origin: the CORS test page -----------------------------
const CORS_PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>cors</title>
<script src="/cors.js"></script></head><body><pre id="out"></pre></body></html>`;
const CORS_JS = `
window.runCors = async function (gw, profile, password) {
  const steps = [];
  const json = { 'Content-Type': 'application/json' };
  let r = await fetch(gw + '/sessions', { method: 'POST', headers: json,
    body: JSON.stringify({ profile, password, flags: ['MAPI_NEW_SESSION'] }) });
  const s = await r.json();
  steps.push({ step: 'logon', status: r.status, location: r.headers.get('Location') });
  const auth = { Authorization: 'Bearer ' + s.token };
  r = await fetch(gw + '/status', { headers: auth });
  const st = await r.json();
  steps.push({ step: 'status', status: r.status, rows: st.row_count, etag: r.headers.get('ETag') });
  r = await fetch(gw + '/identity', { headers: auth });
  const id = await r.json();
  steps.push({ step: 'identity', status: r.status, display: id.display });
  r = await fetch(gw + '/sessions/' + s.id, { method: 'DELETE', headers: auth });
  steps.push({ step: 'logoff', status: r.status });
  r = await fetch(gw + '/status', { headers: auth });
  steps.push({ step: 'after', status: r.status });
  return steps;
};
window.tryBlocked = async function (gw, profile, password) {
  try {
    await fetch(gw + '/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ profile, password, flags: ['MAPI_NEW_SESSION'] }) });
    return 'not blocked';
  } catch (e) { return 'blocked: ' + e.name; }
};`;

function staticOrigin() {
  const server = http.createServer((req, res) => {
    const u = req.url.split('?')[0];
    if (u === '/' || u === '/cors.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(CORS_PAGE);
    } else if (u === '/cors.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      res.end(CORS_JS);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// ---- the gateway ------------------------------------------------------------
async function startGateway(allowedOrigin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapigw-browser-'));
  const portFile = path.join(dir, 'port');
  const log = fs.openSync(path.join(dir, 'gateway.log'), 'w');
  seedDemo(path.join(dir, 'data'));
  // A copy: the console changes the demo password, which the gateway writes
  // into its profiles file, and a setting of its Mailbox (the Services panel):
  // the copy lets a session change the maildir provider's "create" (its
  // user_settings; by default a maildir provider has none).
  const profiles = path.join(dir, 'profiles.json');
  const demo = JSON.parse(fs.readFileSync(path.join(root, 'server/profiles.default.json'), 'utf8'));
  const maildir = demo.profiles.find((p) => p.name === PROFILE).services
    .flatMap((s) => s.providers).find((p) => p.kind === 'maildir');
  maildir.user_settings = ['create'];
  fs.writeFileSync(profiles, JSON.stringify(demo, null, 2) + '\n');
  const child = spawn(bin, ['--listen', '127.0.0.1', '--port', '0', '--port-file', portFile,
    '--profiles', profiles, '--data-dir', path.join(dir, 'data'),
    '--cors-origins', allowedOrigin], { stdio: ['ignore', log, log] });
  let exited = null;
  child.on('exit', (code, sig) => { exited = code ?? sig; });
  for (let i = 0; i < 100; i++) {
    if (exited !== null) break;
    const text = fs.existsSync(portFile) ? fs.readFileSync(portFile, 'utf8') : '';
    if (text.endsWith('\n')) return { child, dir, profiles, url: 'http://127.0.0.1:' + text.trim() };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('the gateway did not start (' + bin + '); log:\n' +
    fs.readFileSync(path.join(dir, 'gateway.log'), 'utf8'));
}

// ---- checks -----------------------------------------------------------------
let passed = 0, failed = 0;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
function assert(cond, what) { if (!cond) throw new Error(what); }

// A page that records requests to other origins, CSP violations, page errors.
async function watchedPage(context, ownOrigins) {
  const page = await context.newPage();
  const problems = [];
  page.on('request', (req) => {
    const u = req.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    if (!ownOrigins.some((o) => u.startsWith(o + '/'))) problems.push('request to another origin: ' + u);
  });
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) problems.push('CSP: ' + msg.text());
  });
  page.on('pageerror', (err) => problems.push('page error: ' + err.message));
  return { page, problems };
}

const origin = await staticOrigin();
const other = await staticOrigin();
const allowed = 'http://127.0.0.1:' + origin.address().port;
const disallowed = 'http://127.0.0.1:' + other.address().port;
const gw = await startGateway(allowed);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 20000,
});
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(10000);

  await check('CORS: an allowed origin logs on, reads status and identity, logs off', async () => {
    const { page, problems } = await watchedPage(context, [allowed, gw.url]);
    await page.goto(allowed + '/cors.html');
    const steps = await page.evaluate(([g, p, w]) => window.runCors(g, p, w), [gw.url, PROFILE, PASSWORD]);
    const by = Object.fromEntries(steps.map((s) => [s.step, s]));
    assert(by.logon.status === 201, 'logon: ' + JSON.stringify(by.logon));
    assert(/^\/sessions\//.test(by.logon.location || ''), 'Location not exposed: ' + JSON.stringify(by.logon));
    assert(by.status.status === 200 && by.status.rows > 0, 'status: ' + JSON.stringify(by.status));
    assert(by.status.etag, 'ETag not exposed to the page');
    assert(by.identity.status === 200 && by.identity.display, 'identity: ' + JSON.stringify(by.identity));
    assert(by.logoff.status === 204, 'logoff: ' + JSON.stringify(by.logoff));
    assert(by.after.status === 401, 'token still works after logoff: ' + JSON.stringify(by.after));
    assert(problems.length === 0, problems.join('\n'));
    await page.close();
  });

  await check('CORS: a disallowed origin is blocked', async () => {
    const page = await context.newPage();
    await page.goto(disallowed + '/cors.html');
    const result = await page.evaluate(([g, p, w]) => window.tryBlocked(g, p, w), [gw.url, PROFILE, PASSWORD]);
    assert(/^blocked/.test(result), 'a disallowed origin was answered: ' + result);
    await page.close();
  });

  await check('console: every feature clicked through at 390 px (screenshots)', async () => {
    await consoleWalkthrough({ browser, gwUrl: gw.url, shotDir, profile: PROFILE, password: PASSWORD,
      profilesFile: gw.profiles, assert });
  });

  await check('docs: /docs renders from the gateway alone', async () => {
    const { page, problems } = await watchedPage(context, [gw.url]);
    const resp = await page.goto(gw.url + '/docs');
    assert(resp.status() === 200, '/docs answered ' + resp.status() + ': ' + (await resp.text()).slice(0, 300));
    await page.waitForFunction(() => document.querySelectorAll('#redoc [data-section-id]').length > 3);
    // The operation list is rendered: "Log on" is POST /sessions' summary.
    await page.getByText('/sessions', { exact: true }).first().waitFor({ state: 'attached' });
    await page.waitForLoadState('networkidle');
    fs.mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: path.join(shotDir, 'docs.png') });
    assert(problems.length === 0, problems.join('\n'));
    await page.close();
  });
} finally {
  await browser.close().catch(() => {});
  gw.child.kill('SIGTERM');
  origin.close();
  other.close();
  if (failed) console.log('gateway log: ' + path.join(gw.dir, 'gateway.log'));
  else fs.rmSync(gw.dir, { recursive: true, force: true });
}
console.log(`browser-test: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
