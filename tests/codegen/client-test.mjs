// client-test.mjs BIN CLIENT_JS - the TypeScript client generated from
// openapi.yaml (scripts/codegen-test.sh) against the real gateway: log on,
// read the status table, log off, and the token is dead afterwards. The
// gateway runs on 127.0.0.1 with --port 0; every wait has a deadline scaled
// by MAPIGW_TEST_TIME_SCALE, as the C suites' gw_ms.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const [bin, clientJs] = process.argv.slice(2);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const scale = Number(process.env.MAPIGW_TEST_TIME_SCALE) > 0 ? Number(process.env.MAPIGW_TEST_TIME_SCALE) : 2;
const ms = (n) => Math.ceil(n * scale);
const { MapigwClient, ApiError } = createRequire(import.meta.url)(clientJs);

let passed = 0, failed = 0;
function check(what, cond, detail) {
  if (cond) { passed++; console.log(`ok   - ${what}`); }
  else { failed++; console.log(`FAIL - ${what}${detail ? ': ' + detail : ''}`); }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapigw-codegen-'));
const portFile = path.join(dir, 'port');
const log = fs.openSync(path.join(dir, 'gateway.log'), 'w');
const gw = spawn(bin, ['--listen', '127.0.0.1', '--port', '0', '--port-file', portFile,
  '--profiles', path.join(root, 'tests/profiles/main.json'), '--data-dir', path.join(dir, 'data')],
{ stdio: ['ignore', log, log] });
const deadline = setTimeout(() => { console.log('FAIL - no result in time'); gw.kill('SIGKILL'); process.exit(1); },
  ms(60000));

try {
  let port = 0;
  for (const until = Date.now() + ms(10000); !port && Date.now() < until;) {
    try { port = Number(fs.readFileSync(portFile, 'utf8').trim()); } catch { /* not yet */ }
    if (!port) await new Promise((r) => setTimeout(r, 50));
  }
  if (!port) throw new Error('the gateway did not start: ' + fs.readFileSync(path.join(dir, 'gateway.log'), 'utf8'));
  const BASE = `http://127.0.0.1:${port}`;

  const anon = new MapigwClient({ BASE });
  const health = await anon.operations.getHealth({});
  check('getHealth: status ok', health.status === 'ok', JSON.stringify(health));

  const logon = await anon.sessions.logon({
    requestBody: { profile: 'alice', password: 'alice-pw', flags: ['MAPI_NEW_SESSION'] },
    xRequestId: 'codegen-logon',
  });
  check('logon: a token and a session id', /^mgw_/.test(logon.token) && /^[0-9a-f]{32}$/.test(logon.id));

  const client = new MapigwClient({ BASE, TOKEN: logon.token });
  const table = await client.status.getStatusTable({});
  const rows = table.rows || [];
  check('getStatusTable: the subsystem row and one per provider', rows.length >= 3 &&
    rows.some((r) => r.resource_type && r.resource_type.name === 'MAPI_SUBSYSTEM'), JSON.stringify(table).slice(0, 300));

  const session = await client.sessions.getSession({ id: logon.id });
  check('getSession: the same session', session.id === logon.id && session.profile === 'alice');

  await client.sessions.logoff({ id: logon.id });
  check('logoff: 204', true);

  let after = null;
  try { await client.status.getStatusTable({ xRequestId: 'codegen-after-logoff' }); }
  catch (e) { after = e; }
  check('after logoff the token gets 401 MAPI_E_END_OF_SESSION, quoting the request id',
    after instanceof ApiError && after.status === 401 && after.body && after.body.mapi_error === 'MAPI_E_END_OF_SESSION' &&
      after.body.instance === 'urn:mapigw:request:codegen-after-logoff',
    after ? `${after.status} ${JSON.stringify(after.body)}` : 'no error');

  check('no preflight or static-file method in the client',
    !('console' in client) && typeof client.operations.getConsole === 'undefined' &&
      !Object.getOwnPropertyNames(Object.getPrototypeOf(client.sessions)).some((n) => /^preflight/.test(n)));
} catch (e) {
  check('the generated client against the gateway', false, e && e.stack ? e.stack : String(e));
} finally {
  clearTimeout(deadline);
  gw.kill('SIGTERM');
  await new Promise((r) => gw.once('exit', r));
  if (failed) console.log('gateway log: ' + path.join(dir, 'gateway.log'));
  else fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`codegen-test: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
