// console.js - the mapigw web console: log on, watch the status table (live
// through GET /events), see the identity, log off. Plain DOM, no framework,
// no request to anywhere but the gateway that served the page. The token is
// kept in this page's memory only (never in storage, never in a URL).
'use strict';

(function () {
  const state = { token: null, session: null, events: null };
  const $ = (id) => document.getElementById(id);

  function message(text, ok) {
    $('message').textContent = text || '';
    $('message').className = ok ? 'ok' : '';
  }

  async function call(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    let data = null;
    const type = resp.headers.get('Content-Type') || '';
    if (resp.status !== 204 && type.includes('json')) data = await resp.json();
    if (!resp.ok) {
      const err = new Error(data && data.detail ? data.detail : 'HTTP ' + resp.status);
      err.status = resp.status;
      err.problem = data;
      throw err;
    }
    return data;
  }

  function problemText(err) {
    const p = err.problem;
    return p ? p.title + ' (' + p.mapi_error + ' ' + p.mapi_code + '): ' + p.detail : String(err.message);
  }

  function fillList(dl, pairs) {
    dl.replaceChildren();
    for (const [k, v] of pairs) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v === null || v === undefined ? '—' : String(v);
      dl.append(dt, dd);
    }
  }

  const names = (f) => (f && f.names && f.names.length ? f.names.join(' | ') : f ? String(f.value) : '');

  function showSession(s) {
    fillList($('session'), [
      ['id', s.id],
      ['profile', s.profile],
      ['flags', names(s.flags)],
      ['shared', s.shared],
      ['created', s.created_at],
      ['expires', s.expires_at],
      ['idle timeout (s)', s.idle_timeout_s],
    ]);
  }

  function showIdentity(id) {
    const pairs = [
      ['display', id.display],
      ['entry id', id.entry_id],
      ['search key', id.search_key],
      ['source', id.source ? id.source.display_name : null],
    ];
    if (id.warning) pairs.push(['warning', id.warning.mapi_error]);
    fillList($('identity'), pairs);
  }

  function showStatus(table, changed) {
    const body = $('status-rows');
    body.replaceChildren();
    for (const row of table.rows) {
      const tr = document.createElement('tr');
      tr.dataset.instanceKey = row.instance_key;
      if (changed && changed.has(row.instance_key)) tr.className = 'changed';
      const cells = [
        row.display_name,
        row.resource_type ? row.resource_type.name : '',
        row.provider_dll_name,
        names(row.status_code),
        row.status_string,
        names(row.resource_methods),
      ];
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c === undefined || c === null ? '' : String(c);
        tr.append(td);
      }
      body.append(tr);
    }
  }

  async function refreshStatus(changed) {
    showStatus(await call('GET', '/status'), changed);
  }

  function setLive(on) {
    $('live').textContent = on ? 'live: on' : 'live: off';
    $('live').className = on ? 'live on' : 'live';
  }

  // GET /events with the bearer header: EventSource cannot send one, so read
  // the text/event-stream body with a ReadableStream reader and parse it.
  async function watchEvents() {
    const ctrl = new AbortController();
    state.events = ctrl;
    let resp;
    try {
      resp = await fetch('/events', {
        headers: { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: ctrl.signal,
      });
    } catch (e) {
      return;
    }
    if (!resp.ok || !resp.body) return;
    setLive(true);
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          handleEvent(block);
        }
      }
    } catch (e) {
      // aborted by log off, or the connection dropped
    } finally {
      setLive(false);
      if (state.events === ctrl) state.events = null;
    }
  }

  function handleEvent(block) {
    let type = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue; // comment: subscribed, keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') type = val;
      else if (field === 'data') data.push(val);
    }
    if (!data.length) return;
    let payload = null;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch (e) {
      return;
    }
    if (type === 'table_modified') {
      const changed = new Set();
      if (payload && payload.instance_key) changed.add(payload.instance_key);
      refreshStatus(changed).catch((err) => message(problemText(err)));
    } else if (type === 'critical_error') {
      ended('The session ended: ' + (payload && payload.reason ? payload.reason : 'critical error'));
    }
  }

  function ended(text) {
    if (state.events) state.events.abort();
    state.token = null;
    state.session = null;
    $('session-section').hidden = true;
    $('logon-section').hidden = false;
    $('status-rows').replaceChildren();
    message(text, true);
  }

  async function logon(ev) {
    ev.preventDefault();
    message('');
    const form = $('logon-form');
    const flags = Array.from(form.querySelectorAll('input[name=flags]:checked')).map((i) => i.value);
    const body = { password: $('password').value, flags };
    const profile = $('profile').value.trim();
    if (profile) body.profile = profile;
    $('logon').disabled = true;
    try {
      const s = await call('POST', '/sessions', body);
      $('password').value = '';
      state.token = s.token;
      state.session = s;
      showSession(s);
      $('logon-section').hidden = true;
      $('session-section').hidden = false;
      message('Logged on to ' + s.profile + (s.joined ? ' (joined the shared session)' : ''), true);
      const [id] = await Promise.all([call('GET', '/identity'), refreshStatus()]);
      showIdentity(id);
      watchEvents();
    } catch (err) {
      message(problemText(err));
    } finally {
      $('logon').disabled = false;
    }
  }

  async function logoff() {
    if (!state.session) return;
    try {
      await call('DELETE', '/sessions/' + encodeURIComponent(state.session.id));
      ended('Logged off.');
    } catch (err) {
      if (err.status === 401) ended('The session had already ended.');
      else message(problemText(err));
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('logon-form').addEventListener('submit', logon);
    $('logoff').addEventListener('click', logoff);
  });
})();
