// casefile's page: a single page on the API v1. No framework, no build step; the token lives in
// this tab's sessionStorage only.

const $ = (id) => document.getElementById(id);
const state = { me: null, caseId: null, caseTitle: '', prefix: '', cursor: null, files: [], folders: [], sort: 'name', auditCursor: null };

function token() { return sessionStorage.getItem('casefile-token'); }

function say(text, error = false) {
  const status = $('status');
  status.textContent = text;
  status.className = error ? 'error' : '';
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token()}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    signOut();
    throw new Error('The token is invalid or expired: sign in again.');
  }
  if (!response.ok) {
    let message = `${response.status}`;
    try { const e = await response.json(); message = `${e.error.message} (${e.error.code})`; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response.status === 204 ? null : response;
}

const json = async (method, path, body) => (await api(method, path, body)).json();

function size(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  if (text instanceof Node) td.append(text); else td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function button(label, onClick, className) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (className) b.className = className;
  b.addEventListener('click', onClick);
  return b;
}

function show(section) {
  for (const id of ['sign-in', 'cases', 'case']) $(id).hidden = id !== section;
  $('sign-out').hidden = section === 'sign-in';
}

function signOut() {
  sessionStorage.removeItem('casefile-token');
  show('sign-in');
}

// ----- cases -----

function whoAmI() {
  // For display only ("you"): the server decides who the caller is.
  try {
    const payload = token().split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).sub || null;
  } catch (_) { return null; }
}

async function loadCases() {
  show('cases');
  const rows = $('case-rows');
  rows.replaceChildren();
  let cursor = null;
  do {
    const page = await json('GET', `/v1/cases${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const c of page.cases) {
      const tr = document.createElement('tr');
      const link = document.createElement('a');
      link.href = `#/cases/${c.id}`;
      link.textContent = c.title;
      cell(tr, link);
      cell(tr, c.role);
      cell(tr, String(c.file_count));
      cell(tr, size(c.total_size_bytes));
      rows.append(tr);
    }
    cursor = page.next_cursor;
  } while (cursor);
}

// ----- a case: files and folders -----

async function openCase(caseId, prefix) {
  show('case');
  state.caseId = caseId;
  state.prefix = prefix;
  const c = await json('GET', `/v1/cases/${caseId}`);
  state.caseTitle = c.title;
  $('case-title').textContent = c.title;
  view('files');
  await loadLevel(true);
}

function breadcrumbs() {
  const nav = $('breadcrumbs');
  nav.replaceChildren();
  const parts = state.prefix.split('/').filter(Boolean);
  const crumbs = [[state.caseTitle, '']];
  parts.forEach((part, i) => crumbs.push([part, `${parts.slice(0, i + 1).join('/')}/`]));
  crumbs.forEach(([label, prefix], i) => {
    if (i > 0) nav.append(' / ');
    if (i === crumbs.length - 1) {
      const here = document.createElement('span');
      here.textContent = label;
      here.setAttribute('aria-current', 'page');
      nav.append(here);
    } else {
      const a = document.createElement('a');
      a.href = `#/cases/${state.caseId}/${prefix}`;
      a.textContent = label;
      nav.append(a);
    }
  });
}

async function loadLevel(fresh) {
  if (fresh) { state.files = []; state.folders = []; state.cursor = null; }
  const q = new URLSearchParams({ delimiter: '/' });
  if (state.prefix) q.set('prefix', state.prefix);
  if (state.cursor) q.set('cursor', state.cursor);
  const page = await json('GET', `/v1/cases/${state.caseId}/files?${q}`);
  state.files.push(...page.files);
  state.folders.push(...(page.folders || []));
  state.cursor = page.next_cursor;
  $('more-files').hidden = !state.cursor;
  breadcrumbs();
  renderFiles();
}

function renderFiles() {
  const rows = $('file-rows');
  rows.replaceChildren();
  for (const folder of state.folders) {
    const tr = document.createElement('tr');
    const a = document.createElement('a');
    a.href = `#/cases/${state.caseId}/${folder}`;
    a.textContent = `${folder.slice(state.prefix.length)}`;
    a.className = 'folder';
    cell(tr, a);
    cell(tr, ''); cell(tr, 'folder'); cell(tr, ''); cell(tr, ''); cell(tr, ''); cell(tr, '');
    rows.append(tr);
  }
  const by = {
    name: (a, b) => a.logical_path.localeCompare(b.logical_path),
    size: (a, b) => a.file_size - b.file_size,
    date: (a, b) => a.created_at.localeCompare(b.created_at),
  }[state.sort];
  for (const f of [...state.files].sort(by)) {
    const tr = document.createElement('tr');
    tr.dataset.path = f.logical_path;
    cell(tr, f.logical_path.slice(state.prefix.length), 'name');
    cell(tr, size(f.file_size));
    cell(tr, f.mime_type);
    cell(tr, new Date(f.created_at).toLocaleString());
    cell(tr, f.uploaded_by === state.me ? 'you' : f.uploaded_by, 'by');
    const sha = document.createElement('span');
    sha.className = 'sha';
    sha.title = f.content_hash;
    sha.dataset.sha256 = f.content_hash;
    sha.textContent = `${f.content_hash.slice(0, 12)}…`;
    const shaCell = cell(tr, sha);
    shaCell.append(' ', button('Copy', () => navigator.clipboard.writeText(f.content_hash).then(() => say('SHA-256 copied.')), 'link'));
    const actions = cell(tr, button('Download', () => download(f).catch((e) => say(e.message, true))));
    actions.append(' ', button('Delete', () => remove(f).catch((e) => say(e.message, true))));
    rows.append(tr);
  }
}

async function download(f) {
  say(`Downloading ${f.file_name}…`);
  const response = await api('GET', `/v1/files/${f.id}/content`);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = f.file_name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  say(`Downloaded ${f.file_name} (verified by the server as it streamed).`);
}

async function remove(f) {
  if (!window.confirm(`Delete ${f.logical_path}? It disappears from the case at once.`)) return;
  await api('DELETE', `/v1/files/${f.id}`);
  say(`Deleted ${f.logical_path}.`);
  await loadLevel(true);
}

// ----- uploads -----

async function hashFile(file, onProgress) {
  const hasher = window.sha256.create();
  const chunk = 4 * 1024 * 1024;
  for (let at = 0; at < file.size; at += chunk) {
    hasher.update(await file.slice(at, at + chunk).arrayBuffer());
    onProgress(Math.min(at + chunk, file.size));
  }
  return hasher.hex();
}

function body(upload, file) {
  if (upload.method !== 'POST') return file;
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
  form.append('file', file);
  return form;
}

// Sends the bytes where the server said. On this origin with progress events; to a store on
// another origin as a plain request: an upload listener would make the browser ask the store's
// CORS rules first (a preflight), which a bucket without them refuses. Completion, which
// verifies what arrived, decides either way; the status is 0 when it cannot be read.
async function send(upload, file, onProgress) {
  const crossOrigin = new URL(upload.url, location.href).origin !== location.origin;
  if (crossOrigin && upload.method === 'POST') {
    try {
      await fetch(upload.url, { method: 'POST', body: body(upload, file), mode: 'no-cors' });
    } catch (_) { return -1; }
    onProgress(file.size);
    return 0;
  }
  if (crossOrigin) {
    // A PUT with the store's headers always needs the bucket's CORS rules (README).
    try {
      const response = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: file });
      onProgress(file.size);
      return response.status;
    } catch (_) { return -1; }
  }
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method, upload.url);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => resolve(xhr.status);
    xhr.onerror = () => resolve(-1);
    if (upload.method !== 'POST') {
      for (const [k, v] of Object.entries(upload.headers)) xhr.setRequestHeader(k, v);
    }
    xhr.send(body(upload, file));
  });
}

function progressRow(label, total) {
  const row = document.createElement('div');
  const text = document.createElement('span');
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-label', label);
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', String(total || 1));
  const fill = document.createElement('span');
  bar.append(fill);
  text.textContent = label;
  row.append(text, bar);
  $('progress').append(row);
  return (done, note) => {
    fill.style.width = `${total ? Math.round((done / total) * 100) : 100}%`;
    bar.setAttribute('aria-valuenow', String(done));
    if (note) text.textContent = `${label}: ${note}`;
  };
}

async function uploadOne(item, overall) {
  const { file, path } = item;
  const logical = `${state.prefix}${path}`;
  const bar = progressRow(logical, file.size * 2);
  const update = (n, note) => { bar(n, note); overall(n); };
  update(0, 'hashing');
  const sha = await hashFile(file, (n) => update(n));
  const started = await json('POST', `/v1/cases/${state.caseId}/uploads`, {
    logical_path: logical,
    file_size: file.size,
    content_hash: sha,
  });
  update(file.size, 'sending');
  const status = await send(started.upload, file, (n) => update(file.size + n));
  if (status === -1) throw new Error('the upload could not be sent (network)');
  if (status !== 0 && (status < 200 || status >= 300)) {
    throw new Error(`the store refused the upload (${status})`);
  }
  update(file.size * 2, 'verifying');
  await json('POST', `/v1/files/${started.file_id}/complete`);
  update(file.size * 2, 'done');
}

async function uploadAll(items) {
  if (!items.length) { say('Choose files first.', true); return; }
  $('progress').replaceChildren();
  const total = items.reduce((n, i) => n + i.file.size, 0);
  say(`Uploading ${items.length} files (${size(total)})…`);
  // Overall: bytes hashed and sent, twice the total.
  const all = progressRow(`All ${items.length} files`, total * 2 || 1);
  let done = 0;
  const failures = [];
  for (const item of items) {
    let mine = 0;
    try {
      await uploadOne(item, (n) => { done += n - mine; mine = n; all(done); });
    } catch (e) {
      failures.push(`${item.path}: ${e.message}`);
    }
    done += item.file.size * 2 - mine;
    all(done, `${items.indexOf(item) + 1} of ${items.length}`);
  }
  await loadLevel(true);
  if (failures.length) say(`${items.length - failures.length} uploaded, ${failures.length} failed: ${failures.join('; ')}`, true);
  else say(`Uploaded ${items.length} file${items.length === 1 ? '' : 's'}, each verified.`);
}

function chosen() {
  const items = [];
  for (const file of $('file-input').files) items.push({ file, path: file.name });
  for (const file of $('folder-input').files) items.push({ file, path: file.webkitRelativePath || file.name });
  // Chosen once: the next upload starts from an empty choice.
  $('file-input').value = '';
  $('folder-input').value = '';
  return items;
}

async function dropped(dataTransfer) {
  const items = [];
  const walk = async (entry, dir) => {
    if (entry.isFile) {
      const file = await new Promise((ok, ko) => entry.file(ok, ko));
      items.push({ file, path: `${dir}${entry.name}` });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      do {
        batch = await new Promise((ok, ko) => reader.readEntries(ok, ko));
        for (const child of batch) await walk(child, `${dir}${entry.name}/`);
      } while (batch.length);
    }
  };
  for (const item of dataTransfer.items) {
    const entry = item.webkitGetAsEntry && item.webkitGetAsEntry();
    if (entry) await walk(entry, '');
  }
  return items;
}

// ----- audit, members, holds -----

async function loadAudit(fresh) {
  if (fresh) { $('audit-rows').replaceChildren(); state.auditCursor = null; }
  const q = state.auditCursor ? `?cursor=${encodeURIComponent(state.auditCursor)}` : '';
  const page = await json('GET', `/v1/cases/${state.caseId}/audit${q}`);
  for (const e of page.entries) {
    const tr = document.createElement('tr');
    cell(tr, new Date(e.at).toLocaleString());
    cell(tr, e.action, 'action');
    cell(tr, e.outcome);
    cell(tr, e.actor || 'system');
    cell(tr, e.details || '');
    $('audit-rows').append(tr);
  }
  state.auditCursor = page.next_cursor;
  $('more-audit').hidden = !state.auditCursor;
}

async function loadMembers() {
  const list = await json('GET', `/v1/cases/${state.caseId}/members`);
  $('member-rows').replaceChildren(...list.members.map((m) => {
    const li = document.createElement('li');
    li.textContent = `${m.display_name || m.user_id} — ${m.role}`;
    return li;
  }));
}

async function loadHolds() {
  const list = await json('GET', `/v1/cases/${state.caseId}/holds`);
  const items = list.holds.map((h) => {
    const li = document.createElement('li');
    li.className = h.active ? 'hold active' : 'hold released';
    li.textContent = `${h.name} (${h.active ? 'active' : 'released'}): ${h.reason} `;
    if (h.active) {
      li.append(button('Release', async () => {
        const reason = $('release-reason').value.trim();
        if (!reason) { say('Give the reason for the release first.', true); $('release-reason').focus(); return; }
        try {
          await json('POST', `/v1/holds/${h.id}/release`, { reason });
          say(`Released ${h.name}.`);
          await loadHolds();
        } catch (e) { say(e.message, true); }
      }));
    }
    return li;
  });
  if (!items.length) {
    const li = document.createElement('li');
    li.textContent = 'No legal hold.';
    items.push(li);
  }
  $('hold-rows').replaceChildren(...items);
}

function view(name) {
  for (const v of ['files', 'audit', 'members', 'holds']) $(`view-${v}`).hidden = v !== name;
  for (const b of document.querySelectorAll('.tabs button')) b.setAttribute('aria-pressed', String(b.dataset.view === name));
  const load = { audit: () => loadAudit(true), members: loadMembers, holds: loadHolds }[name];
  if (load) load().catch((e) => say(e.message, true));
}

// ----- sign-in at the identity provider: authorization code with PKCE -----

function base64url(bytes) {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function redirectUri() { return `${location.origin}/`; }

async function signInConfig() {
  try { return (await (await fetch('/ui/config.json')).json()).oidc; } catch (_) { return null; }
}

async function startSignIn(oidc) {
  const verifier = randomString();
  const stateValue = randomString();
  sessionStorage.setItem('casefile-pkce', JSON.stringify({ verifier, state: stateValue }));
  const challenge = base64url(window.sha256.arrayBuffer(verifier));
  const url = new URL(oidc.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: oidc.scope,
    state: stateValue,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  location.assign(url.toString());
}

// Back from the provider with `?code=…&state=…`: the code is exchanged once, then taken out of
// the address so that it never stays in history.
async function finishSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (!code) return;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  const pending = JSON.parse(sessionStorage.getItem('casefile-pkce') || 'null');
  sessionStorage.removeItem('casefile-pkce');
  if (!oidc || !pending || pending.state !== params.get('state')) {
    say('The sign-in answer does not match a sign-in of this tab: ignored.', true);
    return;
  }
  const response = await fetch(oidc.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri(),
      client_id: oidc.client_id,
      code_verifier: pending.verifier,
    }),
  });
  if (!response.ok) { say(`The identity provider refused the sign-in (${response.status}).`, true); return; }
  const tokens = await response.json();
  sessionStorage.setItem('casefile-token', tokens.access_token);
  say('Signed in.');
}

// ----- routing -----

async function route() {
  if (!token()) { show('sign-in'); return; }
  state.me = whoAmI();
  const match = location.hash.match(/^#\/cases\/([0-9a-f-]{36})\/?(.*)$/);
  try {
    if (match) await openCase(match[1], decodeURIComponent(match[2]));
    else await loadCases();
  } catch (e) {
    say(e.message, true);
  }
}

async function start() {
  const oidc = await signInConfig();
  if (oidc) {
    $('idp').hidden = false;
    $('idp-sign-in').addEventListener('click', () => startSignIn(oidc));
  }
  try { await finishSignIn(oidc); } catch (e) { say(e.message, true); }
  wire();
}

function wire() {
  $('sign-in-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem('casefile-token', $('token').value.trim());
    $('token').value = '';
    say('Signed in.');
    route();
  });
  $('sign-out').addEventListener('click', () => { signOut(); say('Signed out.'); });
  $('new-case-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const c = await json('POST', '/v1/cases', { title: $('new-case-title').value });
      $('new-case-title').value = '';
      location.hash = `#/cases/${c.id}/`;
    } catch (err) { say(err.message, true); }
  });
  $('upload-button').addEventListener('click', () => uploadAll(chosen()).catch((e) => say(e.message, true)));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    try { await uploadAll(await dropped(e.dataTransfer)); } catch (err) { say(err.message, true); }
  });
  $('more-files').addEventListener('click', () => loadLevel(false).catch((e) => say(e.message, true)));
  $('more-audit').addEventListener('click', () => loadAudit(false).catch((e) => say(e.message, true)));
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => view(b.dataset.view));
  for (const b of document.querySelectorAll('button.sort')) b.addEventListener('click', () => { state.sort = b.dataset.sort; renderFiles(); });
  $('hold-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await json('POST', `/v1/cases/${state.caseId}/holds`, { name: $('hold-name').value, reason: $('hold-reason').value });
      $('hold-name').value = '';
      $('hold-reason').value = '';
      say('Hold placed: nothing in the case can be deleted until it is released.');
      await loadHolds();
    } catch (err) { say(err.message, true); }
  });
  $('member-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await json('PUT', `/v1/cases/${state.caseId}/members/${$('member-user').value.trim()}`, { role: $('member-role').value });
      await loadMembers();
      say('Member saved.');
    } catch (err) { say(err.message, true); }
  });
  window.addEventListener('hashchange', route);
  route();
}

start();
