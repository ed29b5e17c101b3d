// console.js - the mapigw web console: log on, the status table (live through
// GET /events) with each row's IMAPIStatus methods, the identity, stores ->
// folders -> contents -> a message, the address book, sending, the profile's
// message services (the settings a session may change), an event log, log off.
// Plain DOM, no framework, no request to anywhere but the gateway that served
// the page; every text from the gateway goes in through textContent.
//
// The token: in this tab's sessionStorage, so that a reload keeps the session,
// and nowhere else (never localStorage, a cookie or a URL). sessionStorage
// belongs to one tab and is dropped when the tab closes; log off and a session
// that ended clear it at once. localStorage keeps only the names of profiles
// this browser logged on to (for the profile list), never a token or password.
'use strict';

(function () {
  const TAB_KEY = 'mapigw.console.session';
  const NAMES_KEY = 'mapigw.console.profiles';
  const METHODS = [
    // [path, resource_methods bit, button label]
    ['validate-state', 0x1, 'Validate state'],
    ['flush-queues', 0x8, 'Flush queues'],
    ['change-password', 0x4, 'Change password'],
  ];
  const state = {
    token: null,
    session: null,
    events: null,
    closing: false,
    rows: [],
    changed: null,
    contents: null,
    ab: null,
    passwordRow: null,
    services: null, // { version: the ETag read, profile }
  };
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };

  function message(text, ok) {
    $('message').textContent = text || '';
    $('message').className = ok ? 'ok' : '';
  }

  // ---- storage ---------------------------------------------------------------
  function store(kind, key, value) {
    try {
      const s = kind === 'tab' ? window.sessionStorage : window.localStorage;
      if (value === null) s.removeItem(key);
      else s.setItem(key, JSON.stringify(value));
    } catch (e) {
      // storage off (private mode, policy): the console still works, without reloads
    }
  }
  function load(kind, key) {
    try {
      const s = kind === 'tab' ? window.sessionStorage : window.localStorage;
      return JSON.parse(s.getItem(key) || 'null');
    } catch (e) {
      return null;
    }
  }

  function knownProfiles() {
    const v = load('local', NAMES_KEY);
    return Array.isArray(v) ? v.filter((n) => typeof n === 'string').slice(0, 20) : [];
  }
  function showProfiles() {
    const pick = $('profile-pick');
    for (const o of Array.from(pick.options)) if (o.dataset.known) o.remove();
    for (const name of knownProfiles()) {
      const o = el('option', name);
      o.value = name;
      o.dataset.known = '1';
      pick.append(o);
    }
  }
  function rememberProfile(name) {
    if (!name) return;
    store('local', NAMES_KEY, [name].concat(knownProfiles().filter((n) => n !== name)).slice(0, 20));
    showProfiles();
  }

  // ---- requests -----------------------------------------------------------------
  async function call(method, path, body, extra) {
    return (await request(method, path, body, extra)).data;
  }
  // call() with the answer's ETag too: { data, etag }. extra: more headers (If-Match).
  async function request(method, path, body, extra) {
    const headers = Object.assign({ Accept: 'application/json' }, extra || {});
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
      if (resp.status === 401 && state.token && path !== '/sessions') ended('The session has ended.');
      throw err;
    }
    return { data, etag: resp.headers.get('ETag') };
  }

  function problemText(err) {
    const p = err.problem;
    return p ? p.title + ' (' + p.mapi_error + ' ' + p.mapi_code + '): ' + p.detail : String(err.message);
  }
  // Runs an action from a click; its failure becomes the page's message.
  const act = (fn) => (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    Promise.resolve()
      .then(() => fn(ev))
      .catch((err) => message(problemText(err)));
  };

  function fillList(dl, pairs) {
    dl.replaceChildren();
    for (const [k, v] of pairs) dl.append(el('dt', k), el('dd', v === null || v === undefined ? '—' : v));
  }
  const names = (f) => (f && f.names && f.names.length ? f.names.join(' | ') : f ? String(f.value) : '');
  const q = encodeURIComponent;

  // ---- session ----------------------------------------------------------------
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

  async function begin(s, token) {
    state.token = token;
    state.session = s;
    state.closing = false;
    store('tab', TAB_KEY, { token, id: s.id });
    showSession(s);
    for (const id of ['session-section', 'stores-section', 'ab-section', 'send-section', 'services-section', 'events-section']) $(id).hidden = false;
    $('logon-section').hidden = true;
    // Events first, so that nothing that changes while the rest loads is
    // missed; a part that fails (a store offline) leaves the others working.
    await watchEvents();
    const parts = await Promise.allSettled([
      refreshStatus().then(showIdentity),
      showStores(),
      searchBook(''),
      showServices(),
    ]);
    const failed = parts.find((p) => p.status === 'rejected');
    if (failed && state.token) message(problemText(failed.reason));
  }

  function ended(text) {
    if (state.events) state.events.abort();
    state.token = null;
    state.session = null;
    store('tab', TAB_KEY, null);
    for (const id of ['session-section', 'stores-section', 'ab-section', 'send-section', 'services-section', 'events-section']) $(id).hidden = true;
    $('logon-section').hidden = false;
    state.services = null;
    for (const id of ['status-rows', 'stores', 'folders', 'contents-rows', 'ab-rows', 'services', 'events'])
      $(id).replaceChildren();
    $('contents-box').hidden = $('message-box').hidden = $('password-form').hidden = true;
    message(text, true);
  }

  async function logon(ev) {
    message('');
    const flags = Array.from($('logon-form').querySelectorAll('input[name=flags]:checked')).map((i) => i.value);
    const body = { password: $('password').value, flags };
    const profile = $('profile').value.trim();
    if (profile) body.profile = profile;
    $('logon').disabled = true;
    try {
      const s = await call('POST', '/sessions', body);
      $('password').value = '';
      rememberProfile(s.profile);
      message('Logged on to ' + s.profile + (s.joined ? ' (joined the shared session)' : ''), true);
      await begin(s, s.token);
    } finally {
      $('logon').disabled = false;
    }
    void ev;
  }

  async function logoff(shared) {
    if (!state.session) return;
    state.closing = true;
    const path = '/sessions/' + q(state.session.id) + (shared ? '?flags=MAPI_LOGOFF_SHARED' : '');
    try {
      await call('DELETE', path);
    } catch (err) {
      state.closing = false;
      throw err;
    }
    ended(shared ? 'Logged off the shared session (every handle).' : 'Logged off.');
  }

  // After a reload: the tab's token, if its session still lives.
  async function resume() {
    const saved = load('tab', TAB_KEY);
    if (!saved || typeof saved.token !== 'string' || typeof saved.id !== 'string') return;
    state.token = saved.token;
    try {
      const s = await call('GET', '/sessions/' + q(saved.id));
      message('Resumed the session of ' + s.profile + ' after a reload.', true);
      await begin(s, saved.token);
    } catch (err) {
      state.token = null;
      store('tab', TAB_KEY, null);
      message('The saved session is gone: ' + problemText(err));
    }
  }

  // ---- identity -----------------------------------------------------------------
  async function showIdentity() {
    const id = await call('GET', '/identity');
    const src = id.source ? state.rows.find((r) => r.instance_key === id.source.instance_key) : null;
    let address = src && src.identity ? src.identity.address_type + ':' + src.identity.address : null;
    if (!address && id.entry_id) {
      const user = await call('GET', '/entries/' + q(id.entry_id));
      if (user.email_address) address = (user.address_type || '') + ':' + user.email_address;
    }
    const pairs = [
      ['display', id.display],
      ['address', address],
      ['entry id', id.entry_id],
      ['search key', id.search_key],
      ['source', id.source ? id.source.display_name : null],
    ];
    if (id.warning) pairs.push(['warning', id.warning.mapi_error]);
    fillList($('identity'), pairs);
  }

  // ---- status table ---------------------------------------------------------------
  function showStatus() {
    const body = $('status-rows');
    body.replaceChildren();
    for (const row of state.rows) {
      const tr = el('tr');
      tr.dataset.instanceKey = row.instance_key;
      if (state.changed && state.changed.has(row.instance_key)) tr.className = 'changed';
      const cells = [
        ['Display name', row.display_name],
        ['Type', row.resource_type ? row.resource_type.name : ''],
        ['Status', names(row.status_code)],
        ['Status string', row.status_string],
      ];
      for (const [label, value] of cells) {
        const td = el('td', value);
        td.dataset.label = label; // the column's name where a narrow screen stacks the row
        tr.append(td);
      }
      const td = el('td', null, 'methods');
      td.dataset.label = 'Methods';
      const have = row.resource_methods ? row.resource_methods.value : 0;
      for (const [method, bit, label] of METHODS) {
        const b = el('button', label);
        b.type = 'button';
        b.dataset.method = method;
        b.disabled = !(have & bit);
        b.title = b.disabled ? 'not in this row\'s PR_RESOURCE_METHODS' : 'IMAPIStatus::' + label.replace(/ /g, '');
        b.addEventListener('click', act(() => runMethod(row, method)));
        td.append(b);
      }
      tr.append(td);
      body.append(tr);
    }
  }

  async function refreshStatus() {
    state.rows = (await call('GET', '/status')).rows;
    showStatus();
  }

  function updateRow(row, changed) {
    const i = state.rows.findIndex((r) => r.instance_key === row.instance_key);
    if (i >= 0) state.rows[i] = Object.assign({}, state.rows[i], row);
    else state.rows.push(row);
    if (changed) state.changed = new Set([row.instance_key]);
    showStatus();
  }

  async function runMethod(row, method) {
    if (method === 'change-password') {
      state.passwordRow = row;
      $('password-row').textContent = row.display_name;
      $('password-form').hidden = false;
      $('old-password').focus();
      return;
    }
    const after = await call('POST', '/status/' + q(row.instance_key) + '/' + method);
    updateRow(after, false);
    message(method + ' on ' + after.display_name + ': ' + names(after.status_code), true);
  }

  async function changePassword() {
    const row = state.passwordRow;
    const body = { old_password: $('old-password').value, new_password: $('new-password').value };
    const after = await call('POST', '/status/' + q(row.instance_key) + '/change-password', body);
    $('old-password').value = $('new-password').value = '';
    $('password-form').hidden = true;
    updateRow(after, false);
    message('The password of ' + after.display_name + ' was changed.', true);
    // The new verifier is written into the profiles file: a new profile
    // version, which the services panel needs for its next Save.
    await showServices();
  }

  // ---- sending: POST /messages (CreateMessage + SubmitMessage) -------------------
  // Each comma-separated recipient is an address (it has an @: SMTP) or a
  // display name the gateway resolves in the address book.
  async function sendMessage() {
    const to = $('send-to')
      .value.split(',')
      .map((t) => t.trim())
      .filter((t) => t)
      .map((t) => (t.includes('@') ? { address_type: 'SMTP', address: t } : { display_name: t }));
    const body = { to, subject: $('send-subject').value, body: $('send-body').value };
    const sent = await call('POST', '/messages', body);
    const who = sent.recipients.map(
      (r) => (r.display_name ? r.display_name + ' <' + r.address + '>' : r.address) + ' via ' + r.transport
    );
    $('send-result').prepend(el('li', 'Submitted ' + sent.internet_message_id + ' to ' + who.join(', ')));
    $('send-subject').value = $('send-body').value = '';
    message('The message is in the Outbox and queued; it moves to Sent Items once delivered.', true);
  }

  // ---- events: GET /events, a plain EventSource with a ticket --------------------
  function setLive(on) {
    $('live').textContent = on ? 'live: on' : 'live: off';
    $('live').className = on ? 'live on' : 'live';
  }

  // EventSource cannot send Authorization, and the token never goes in a URL:
  // each connection opens with a single-use ticket (POST /events/tickets).
  // EventSource would reconnect by itself with the spent ticket, so on any
  // error the console closes it and opens a new one with a new ticket and the
  // last id it saw: the gateway replays what was missed, or says resync (then
  // the status table is read again). With replicas, a ticket works only on the
  // one that issued it: the retry gets a new one.
  // Resolves once the first stream is open (or could not open, or after 3 s),
  // so that the page reads the tables only when no change can slip by.
  function watchEvents() {
    let ready;
    const opened = new Promise((resolve) => {
      ready = resolve;
      setTimeout(resolve, 3000);
    });
    const w = { closed: false, source: null, lastId: '', timer: null, failures: 0 };
    state.events = {
      abort() {
        w.closed = true;
        clearTimeout(w.timer);
        if (w.source) w.source.close();
        setLive(false);
      },
    };
    const retry = () => {
      if (w.closed) return;
      w.failures++;
      w.timer = setTimeout(open, Math.min(30000, 1000 * 2 ** Math.min(w.failures - 1, 5)));
    };
    const open = async () => {
      if (w.closed || !state.token) return;
      let t;
      try {
        t = await call('POST', '/events/tickets');
      } catch (e) {
        ready();
        retry(); // a 401 has ended the session already (call)
        return;
      }
      if (w.closed) return;
      let url = '/events?ticket=' + q(t.ticket);
      if (w.lastId) url += '&last_event_id=' + q(w.lastId);
      const es = new EventSource(url);
      w.source = es;
      es.onopen = () => {
        w.failures = 0;
        setLive(true);
        ready();
      };
      const on = (type) => (ev) => {
        if (ev.lastEventId) w.lastId = ev.lastEventId;
        if (type === 'critical_error') {
          w.closed = true;
          es.close();
          setLive(false);
        }
        handleEvent(type, ev.lastEventId, ev.data);
      };
      for (const type of ['table_modified', 'critical_error', 'resync']) es.addEventListener(type, on(type));
      es.onerror = () => {
        es.close();
        setLive(false);
        ready();
        retry();
      };
    };
    open();
    return opened;
  }

  function logEvent(id, type, summary) {
    const li = el('li', null, 'event-' + type);
    li.append(el('time', new Date().toLocaleTimeString()), el('b', type), el('span', summary));
    if (id) li.dataset.id = id;
    const log = $('events');
    log.prepend(li);
    while (log.children.length > 200) log.lastElementChild.remove();
  }

  function handleEvent(type, id, text) {
    let payload = null;
    try {
      payload = JSON.parse(text);
    } catch (e) {
      logEvent(id, type, '(data is not JSON)');
      return;
    }
    if (type === 'table_modified' && payload && payload.row) {
      const row = payload.row;
      logEvent(id, type, row.display_name + ': ' + names(row.status_code) +
        (row.status_string ? ' — ' + row.status_string : ''));
      updateRow(row, true);
    } else if (type === 'critical_error') {
      const reason = payload && payload.reason ? payload.reason : 'critical error';
      logEvent(id, type, (payload && payload.mapi_error ? payload.mapi_error + ', ' : '') + 'reason: ' + reason);
      if (!state.closing) ended('The session ended: ' + reason);
    } else if (type === 'resync') {
      // Events were lost (reason says why): the table is read again.
      logEvent(id, type, 'reason: ' + (payload && payload.reason ? payload.reason : '?'));
      refreshStatus().catch(() => {});
    } else {
      logEvent(id, type, text);
    }
  }

  // ---- stores, folders, contents, a message ----------------------------------------
  async function showStores() {
    const list = $('stores');
    list.replaceChildren();
    for (const s of (await call('GET', '/stores')).rows) {
      const b = el('button', s.display_name + (s.default_store ? ' (default)' : ''), 'link');
      b.type = 'button';
      b.addEventListener('click', act(() => openStore(s)));
      const li = el('li');
      li.append(b, el('small', ' ' + names(s.status_code)));
      list.append(li);
    }
  }

  // Folders come as a flat list; their display names are paths ("Archive/2024").
  async function openStore(s) {
    const r = await call('GET', '/stores/' + q(s.entry_id));
    const folders = r.folders.slice().sort((a, b) => a.display_name.localeCompare(b.display_name));
    const tree = $('folders');
    tree.replaceChildren();
    const shown = new Set(folders.map((f) => f.display_name));
    for (const f of folders) {
      const parts = f.display_name.split('/');
      // A level that is no folder itself ("Archive" of "Archive/2026"): a label.
      for (let d = 1; d < parts.length; d++) {
        const prefix = parts.slice(0, d).join('/');
        if (shown.has(prefix)) continue;
        shown.add(prefix);
        const label = el('li', parts[d - 1], 'level');
        label.style.setProperty('--depth', String(d - 1));
        tree.append(label);
      }
      const li = el('li');
      li.style.setProperty('--depth', String(parts.length - 1));
      const b = el('button', parts[parts.length - 1], 'link folder');
      b.type = 'button';
      b.addEventListener('click', act(() => openFolder(f, true)));
      li.append(b, el('small', ' ' + f.content_count + ' (' + f.content_unread + ' unread)'));
      tree.append(li);
    }
    $('folders-title').hidden = false;
    $('folders-title').textContent = 'Folders of ' + s.display_name;
    $('contents-box').hidden = $('message-box').hidden = true;
  }

  async function openFolder(f, fresh) {
    if (fresh) {
      state.contents = { folder: f, next: null, shown: 0 };
      $('contents-rows').replaceChildren();
      $('contents-folder').textContent = f.display_name;
      $('message-box').hidden = true;
    }
    const c = state.contents;
    let path = '/entries/' + q(f.entry_id) + '/contents?max=' + q($('page-size').value);
    if (!fresh && c.next) path += '&cursor=' + q(c.next);
    const page = await call('GET', path);
    for (const m of page.rows) {
      const tr = el('tr', null, m.message_flags & 1 ? 'read' : 'unread');
      const b = el('button', m.subject || '(no subject)', 'link');
      b.type = 'button';
      b.addEventListener('click', act(() => openMessage(m)));
      const subject = el('td');
      subject.append(b);
      tr.append(el('td', m.message_delivery_time), el('td', m.sender_name || m.sender_email_address),
        subject, el('td', m.message_size));
      $('contents-rows').append(tr);
    }
    c.shown += page.rows.length;
    c.next = page.next || null;
    $('contents-count').textContent = c.shown + (page.total !== undefined ? ' of ' + page.total : '') + ' shown';
    $('contents-more').hidden = !c.next;
    $('contents-box').hidden = false;
  }

  async function openMessage(m) {
    const o = await call('GET', '/entries/' + q(m.entry_id));
    const pairs = [];
    for (const [k, v] of Object.entries(o)) {
      if (k === 'object_type') pairs.push([k, v.name]);
      else pairs.push([k, v !== null && typeof v === 'object' ? JSON.stringify(v) : v]);
    }
    fillList($('message-props'), pairs);
    $('message-box').hidden = false;
  }

  // ---- address book ------------------------------------------------------------
  async function searchBook(text, more) {
    if (!more) {
      state.ab = { search: text, next: null, shown: 0 };
      $('ab-rows').replaceChildren();
    }
    const ab = state.ab;
    let path = '/addressbook?max=' + q($('page-size').value);
    if (ab.search) path += '&search=' + q(ab.search);
    if (more && ab.next) path += '&cursor=' + q(ab.next);
    const page = await call('GET', path);
    $('ab-containers').textContent = 'Books: ' +
      (page.containers.map((c) => c.display_name + ' (' + c.content_count + ')').join(', ') || 'none') +
      (page.warning ? ' — ' + page.warning.mapi_error + ': a book could not be read' : '');
    for (const e of page.entries) {
      const tr = el('tr');
      tr.append(el('td', e.display_name), el('td', e.address_type), el('td', e.email_address));
      $('ab-rows').append(tr);
    }
    ab.shown += page.entries.length;
    ab.next = page.next || null;
    $('ab-count').textContent = ab.shown + ' of ' + page.total + ' shown' + (ab.search ? ' (search: ' + ab.search + ')' : '');
    $('ab-more').hidden = !ab.next;
  }

  // ---- message services: GET/PATCH /services (IMAPISession::AdminServices) -------
  // The session's own profile as it is in the profiles file now (what the next
  // logon gets). Every setting is shown; those a provider's user_settings lists
  // get an input, typed by the value read; Save sends one JSON merge patch per
  // provider with If-Match of the version read, so a change made elsewhere in
  // between is refused (412) instead of overwritten. Secrets come back masked
  // and are never filled in: an empty password input leaves the secret as it is.
  const isSecret = (key) => key === 'password' || /_password$/.test(key);
  const showValue = (v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v);

  async function showServices() {
    const box = $('services');
    let r;
    try {
      r = await request('GET', '/services');
    } catch (err) {
      // A profile derived from a template has no services of its own (501).
      if (err.status !== 501) throw err;
      box.replaceChildren(el('p', problemText(err), 'hint'));
      $('services-profile').textContent = '';
      $('services-none').hidden = true;
      state.services = null;
      return;
    }
    state.services = { version: r.etag, profile: r.data.profile };
    $('services-profile').textContent = 'Profile ' + r.data.profile + ', version ' + (r.etag || '?') + '.';
    box.replaceChildren();
    let editable = 0;
    for (const svc of r.data.services) {
      const form = el('form', null, 'service');
      form.autocomplete = 'off';
      form.dataset.uid = svc.uid;
      form.append(el('h3', svc.name));
      const inputs = [];
      for (const p of svc.providers) {
        const div = el('div', null, 'provider');
        div.append(el('h4', p.display_name));
        const about = el('p', null, 'hint');
        about.append(el('b', p.kind), ' · ', el('code', p.type));
        if (p.resource_flags && p.resource_flags.length) about.append(' · ', el('code', p.resource_flags.join(' | ')));
        div.append(about);
        const pairs = Object.entries(p.settings || {}).map(([k, v]) => [k, showValue(v)]);
        if (p.identity) pairs.push(['identity', showValue(p.identity)]);
        const dl = el('dl', null, 'settings');
        fillList(dl, pairs.length ? pairs : [['settings', 'none']]);
        div.append(dl);
        const allowed = Array.isArray(p.user_settings) ? p.user_settings : [];
        if (allowed.length) {
          const set = el('fieldset');
          set.append(el('legend', 'Settings you may change'));
          for (const key of allowed) {
            const input = settingInput(p, key);
            inputs.push(input);
            const label = el('label', null, input.type === 'checkbox' ? 'check' : '');
            if (input.type === 'checkbox') label.append(input, ' ', el('span', key));
            else label.append(el('span', key), input);
            set.append(label);
          }
          div.append(set);
        }
        form.append(div);
      }
      if (inputs.length) {
        editable++;
        const save = el('button', 'Save ' + svc.name);
        save.type = 'submit';
        save.className = 'save';
        form.append(save);
        form.addEventListener('submit', act(() => saveService(svc, inputs, save)));
      } else {
        form.append(el('p', 'No setting of this service may be changed from a session.', 'hint'));
      }
      box.append(form);
    }
    $('services-none').hidden = editable > 0;
  }

  // An input for setting key of provider p, typed by the value it has now.
  function settingInput(p, key) {
    const value = p.settings ? p.settings[key] : undefined;
    const input = el('input');
    input.dataset.position = String(p.position);
    input.dataset.setting = key;
    if (isSecret(key)) {
      input.type = 'password';
      input.autocomplete = 'new-password';
      input.placeholder = value === undefined ? 'not set' : 'unchanged';
      input.dataset.kind = 'secret';
    } else if (typeof value === 'boolean') {
      input.type = 'checkbox';
      input.checked = value;
      input.dataset.kind = 'boolean';
    } else if (typeof value === 'number') {
      input.type = 'number';
      input.step = '1';
      input.value = String(value);
      input.dataset.kind = 'integer';
    } else {
      input.type = 'text';
      input.maxLength = 1024;
      input.value = value === undefined || value === null ? '' : String(value);
      input.placeholder = value === undefined ? 'not set' : '';
      input.dataset.kind = 'string';
    }
    input.dataset.was = value === undefined ? '' : JSON.stringify(value);
    return input;
  }

  // One merge patch per provider: the inputs whose value differs from the one read.
  function servicePatch(svc, inputs) {
    const patches = svc.providers.map(() => ({}));
    let changes = 0;
    for (const input of inputs) {
      const key = input.dataset.setting;
      const was = input.dataset.was === '' ? undefined : JSON.parse(input.dataset.was);
      let v;
      if (input.dataset.kind === 'secret') {
        if (input.value === '') continue; // empty: unchanged
        v = input.value;
      } else if (input.dataset.kind === 'boolean') {
        v = input.checked;
      } else if (input.dataset.kind === 'integer') {
        v = Number(input.value);
        if (input.value.trim() === '' || !Number.isInteger(v)) throw new Error(key + ': a whole number is needed');
      } else {
        v = input.value;
        if (v === '' && was === undefined) continue;
      }
      if (v === was) continue;
      const i = svc.providers.findIndex((p) => String(p.position) === input.dataset.position);
      patches[i].settings = patches[i].settings || {};
      patches[i].settings[key] = v;
      changes++;
    }
    return changes ? { providers: patches } : null;
  }

  async function saveService(svc, inputs, button) {
    const body = servicePatch(svc, inputs);
    if (!body) {
      message('Nothing changed in ' + svc.name + '.', true);
      return;
    }
    const headers = state.services && state.services.version ? { 'If-Match': state.services.version } : {};
    button.disabled = true;
    try {
      await call('PATCH', '/services/' + q(svc.uid), body, headers);
    } catch (err) {
      // Refused: say why, and show the services as they are now (after a 412,
      // someone else's change; the edit has to be made again on top of it).
      message(problemText(err));
      if (state.token) await showServices().catch(() => {});
      noteOnService(svc.uid, 'Not saved: ' + (err.problem ? err.problem.detail : err.message), false);
      return;
    } finally {
      button.disabled = false;
    }
    message('Saved ' + svc.name + ': the change applies from the next logon.', true);
    await showServices();
    noteOnService(svc.uid, 'Saved at ' + new Date().toLocaleTimeString() + '.', true);
  }
  // The outcome next to the Save button as well: on a phone the message area
  // at the top of the page is out of sight.
  function noteOnService(uid, text, ok) {
    const form = Array.from($('services').querySelectorAll('form.service')).find((f) => f.dataset.uid === uid);
    if (form) form.append(el('p', text, ok ? 'outcome ok' : 'outcome'));
  }

  document.addEventListener('DOMContentLoaded', () => {
    showProfiles();
    $('profile-pick').addEventListener('change', () => {
      const v = $('profile-pick').value;
      const dflt = $('logon-form').querySelector('input[value=MAPI_USE_DEFAULT]');
      if (v === '*default*') {
        $('profile').value = '';
        dflt.checked = true;
      } else if (v) {
        $('profile').value = v;
      }
    });
    $('forget-profiles').addEventListener('click', () => {
      store('local', NAMES_KEY, null);
      showProfiles();
    });
    $('logon-form').addEventListener('submit', act(logon));
    $('logoff').addEventListener('click', act(() => logoff(false)));
    $('logoff-shared').addEventListener('click', act(() => logoff(true)));
    $('password-form').addEventListener('submit', act(changePassword));
    $('password-cancel').addEventListener('click', () => {
      $('old-password').value = $('new-password').value = '';
      $('password-form').hidden = true;
    });
    $('contents-more').addEventListener('click', act(() => openFolder(state.contents.folder, false)));
    $('ab-form').addEventListener('submit', act(() => searchBook($('ab-search').value.trim(), false)));
    $('ab-more').addEventListener('click', act(() => searchBook(state.ab.search, true)));
    $('events-clear').addEventListener('click', () => $('events').replaceChildren());
    $('send-form').addEventListener('submit', act(sendMessage));
    $('services-reload').addEventListener('click', act(async () => {
      await showServices();
      message('Message services read again.', true);
    }));
    resume().catch((err) => message(problemText(err)));
  });
})();
