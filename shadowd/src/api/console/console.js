// The console page: the sessions on this host, live; a Shadow button that
// asks the user (with the consent countdown) and then shows their screen
// view-only; words for every failure and for every way a shadow ends.
//
// For tests and people alike, #status carries the page's state:
// data-phase = idle | asking | connecting | connected | ended | failed,
// data-code = the API error code or the reason the shadow ended.

import { listSessions, requestShadow, stopShadow, watchEvents } from './api.js';
import { errorMessage, endMessage, shadowState, transportLabel, unreachableMessage } from './messages.js';
import { openViewer } from './viewer.js';

const $ = (sel) => document.querySelector(sel);

/// How long to wait, after the viewer's connection closed, for the audit
/// event that says why (the close and the event race).
const REASON_GRACE_MS = 3000;
/// Sessions come and go without audit events (a user logs in): poll too.
const POLL_MS = 10000;

const params = new URLSearchParams(location.search);
const state = {
  sessions: [],
  policy: null,
  /// `/shadow/{session}`: the session this page is focused on.
  focus: focusFromPath(location.pathname),
  /// The one shadow this page is working on (asking, watching or ended).
  view: null,
  /// Why shadows ended, by shadow id, from the audit stream.
  reasons: new Map(),
  quality: parseQuality(params.get('quality')),
};

function focusFromPath(path) {
  const m = path.match(/^\/shadow\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : null;
}

function parseQuality(q) {
  const n = q === null ? NaN : Number(q);
  return Number.isInteger(n) && n >= 0 && n <= 9 ? n : null;
}

// --- status line -----------------------------------------------------------

let countdownTimer = null;

function show(phase, code, text, detail) {
  const s = $('#status');
  s.dataset.phase = phase;
  s.dataset.code = code || '';
  s.className = `status ${phase}`;
  $('#status-text').textContent = text;
  $('#status-detail').textContent = detail || '';
  if (phase !== 'asking') stopCountdown();
}

function startCountdown(seconds) {
  stopCountdown();
  const deadline = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    $('#countdown').textContent = left > 0 ? `${left} s left to answer` : 'any moment now';
  };
  tick();
  countdownTimer = setInterval(tick, 250);
}

function stopCountdown() {
  if (countdownTimer) clearInterval(countdownTimer);
  countdownTimer = null;
  $('#countdown').textContent = '';
}

// --- sessions --------------------------------------------------------------

function sessionById(id) {
  return state.sessions.find((s) => s.id === id);
}

/// Names for messages: "anna on :3" style context.
function context(id) {
  const s = sessionById(id);
  return {
    session: id,
    user: s ? s.user : `the user of session ${id}`,
    display: s ? s.display : `(session ${id})`,
    timeout: state.policy ? state.policy.consent_timeout_secs : 20,
  };
}

let refreshQueued = false;

async function refresh() {
  const r = await listSessions();
  if (!r.ok) {
    $('#policy').textContent = errorMessage(r.code, {});
    return;
  }
  state.sessions = r.body.sessions || [];
  state.policy = r.body.policy || null;
  render();
}

function queueRefresh() {
  if (refreshQueued) return;
  refreshQueued = true;
  setTimeout(() => {
    refreshQueued = false;
    refresh();
  }, 100);
}

function render() {
  const p = state.policy;
  $('#policy').textContent = !p
    ? 'The host\'s shadowing settings cannot be read.'
    : !p.enabled
      ? 'Shadowing is turned off on this host.'
      : `Users have ${p.consent_timeout_secs} s to answer. Shadow connections use ${transportLabel(p.scheme)}.`;

  const busy = state.view && ['asking', 'connecting', 'connected'].includes(state.view.phase);
  const body = $('#sessions tbody');
  const shown = state.focus ? state.sessions.filter((s) => s.id === state.focus) : state.sessions;
  // Rows are updated in place and never detached while shown: the table
  // refreshes on every audit event, and Chromium sends a click whose row
  // was detached (even re-attached at once) between press and release to
  // the table, not to the Shadow button.
  const keep = new Set(shown.map((s) => s.id));
  for (const tr of [...body.rows]) {
    if (!keep.has(tr.dataset.session)) tr.remove();
  }
  shown.forEach((s, i) => {
    const tr = rowFor(body, s.id);
    tr.className = s.id === state.focus ? 'focused' : '';
    tr.querySelector('td.user').textContent = s.user;
    tr.querySelector('td.display').textContent = s.display;
    tr.querySelector('td.shadow').textContent = shadowState(s.shadow);
    tr.querySelector('button.shadow').disabled = Boolean(busy);
    // The daemon's order; rows before i are already in it.
    if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null);
  });
  $('#empty').hidden = shown.length > 0;
  $('#empty').textContent = state.focus
    ? `Session ${state.focus} is not running on this host.`
    : 'No X sessions are running on this host.';
  $('#focus-note').hidden = !state.focus;
  $('#focus-id').textContent = state.focus || '';
}

/// The row of session `id`, made (with its Shadow button) on first sight.
function rowFor(body, id) {
  const found = [...body.rows].find((tr) => tr.dataset.session === id);
  if (found) return found;
  const tr = document.createElement('tr');
  tr.dataset.session = id;
  for (const cls of ['id', 'user', 'display', 'shadow']) {
    const td = document.createElement('td');
    td.className = cls;
    tr.appendChild(td);
  }
  tr.querySelector('td.id').textContent = id;
  const td = document.createElement('td');
  const button = document.createElement('button');
  button.className = 'shadow';
  button.type = 'button';
  button.textContent = 'Shadow';
  button.addEventListener('click', () => startShadow(id));
  td.appendChild(button);
  tr.appendChild(td);
  return tr;
}

// --- shadowing -------------------------------------------------------------

function adminName() {
  return $('#admin').value.trim();
}

async function startShadow(id) {
  const admin = adminName();
  if (!admin) {
    show('failed', 'admin_missing', 'Enter your administrator name (DOMAIN\\name) first.');
    $('#admin').focus();
    return;
  }
  await refresh(); // the consent timeout as of now
  const ctx = context(id);
  const view = { id, admin, phase: 'asking', grant: null, rfb: null, closed: false, stopping: false };
  state.view = view;
  render();
  show('asking', '', `Asking ${ctx.user} on display ${ctx.display} to allow you to shadow their session…`);
  startCountdown(ctx.timeout);
  const r = await requestShadow(id, admin);
  if (state.view !== view) return;
  if (!r.ok) {
    view.phase = 'failed';
    show('failed', r.code, errorMessage(r.code, context(id)), r.message);
    render();
    return;
  }
  view.grant = r.body;
  view.phase = 'connecting';
  render();
  const transport = transportLabel(view.grant.scheme);
  $('#transport').textContent = transport;
  $('#transport').dataset.scheme = view.grant.scheme;
  $('#viewer-title').textContent = `${ctx.user} on ${ctx.display}`;
  $('#viewer-panel').hidden = false;
  show('connecting', '', `${ctx.user} accepted. Connecting to ${view.grant.url} (${transport})…`);
  try {
    view.rfb = await openViewer($('#screen'), view.grant, state.quality, {
      connect: () => connected(view),
      disconnect: (clean) => closed(view, clean),
      refused: (why) => {
        view.refusal = why;
      },
    });
  } catch (e) {
    view.phase = 'failed';
    view.closed = true;
    $('#viewer-panel').hidden = true;
    show('failed', 'novnc_missing', e.message);
    render();
  }
}

function connected(view) {
  if (state.view !== view) return;
  view.phase = 'connected';
  const ctx = context(view.id);
  show('connected', '', `Watching ${ctx.user}'s session on ${ctx.display} — view only, over ${transportLabel(view.grant.scheme)}.`);
  render();
}

/// The viewer's WebSocket closed: say why, from the audit stream if it
/// has (or soon has) the reason, else from what the connection saw.
function closed(view, clean) {
  if (state.view !== view || view.closed) return;
  view.closed = true;
  if (view.stopping) return ended(view, { reason: 'deleted', stoppedHere: true });
  const known = state.reasons.get(view.grant.shadow);
  if (known) return ended(view, known);
  if (view.refusal) {
    view.phase = 'failed';
    $('#viewer-panel').hidden = true;
    show('failed', 'auth_failed', `The shadow refused the viewer's one-time password: ${view.refusal}.`);
    render();
    return;
  }
  if (view.phase === 'connecting' && !clean) {
    // Never connected: the browser itself refused or could not reach the
    // shadow port. shadowd cannot know why, so the page says what to check.
    view.phase = 'failed';
    $('#viewer-panel').hidden = true;
    show('failed', 'viewer_unreachable', unreachableMessage(view.grant), view.grant.url);
    render();
    return;
  }
  show('ended', 'closing', 'The viewer was disconnected; asking shadowd why…');
  view.waiting = setTimeout(() => {
    const late = state.reasons.get(view.grant.shadow);
    ended(view, late || { reason: clean ? 'closed' : 'lost' });
  }, REASON_GRACE_MS);
}

function ended(view, why) {
  if (state.view !== view || view.phase === 'ended') return;
  clearTimeout(view.waiting);
  view.phase = 'ended';
  $('#viewer-panel').hidden = true;
  const ctx = { ...context(view.id), by: why.by, stoppedHere: why.stoppedHere };
  const text = why.reason === 'lost'
    ? 'The connection to the shadowed session was lost.'
    : why.reason === 'closed'
      ? 'The shadowed session closed the connection.'
      : endMessage(why.reason, ctx);
  show('ended', why.reason, text);
  render();
}

async function stop() {
  const view = state.view;
  if (!view || view.phase === 'ended') return;
  view.stopping = true;
  const r = await stopShadow(view.id);
  if (!r.ok && r.code !== 'no_active_shadow') {
    view.stopping = false;
    show(view.phase, r.code, errorMessage(r.code, context(view.id)), r.message);
    return;
  }
  if (view.rfb && !view.closed) view.rfb.disconnect();
  else ended(view, { reason: 'deleted', stoppedHere: true });
}

/// Audit events: refresh the table, and remember why shadows ended so the
/// page can say it when (or if already) its own viewer closes.
function onEvent(rec) {
  queueRefresh();
  if (rec.event === 'taken_over' && rec.shadow !== undefined) {
    state.reasons.set(rec.shadow, { reason: 'taken_over', by: rec.by });
  } else if (rec.event === 'ended' && rec.shadow !== undefined && !state.reasons.has(rec.shadow)) {
    state.reasons.set(rec.shadow, { reason: rec.reason });
  } else {
    return;
  }
  const view = state.view;
  if (!view || !view.grant || view.grant.shadow !== rec.shadow) return;
  if (view.closed) {
    ended(view, state.reasons.get(rec.shadow));
  } else if (rec.event === 'ended') {
    // The daemon ended it; its close should follow at once. If it does not,
    // close it here rather than show a frozen picture.
    setTimeout(() => {
      if (!view.closed && view.rfb) {
        view.closed = true;
        view.rfb.disconnect();
        ended(view, state.reasons.get(rec.shadow));
      }
    }, REASON_GRACE_MS);
  }
}

// --- start -----------------------------------------------------------------

function init() {
  const admin = $('#admin');
  admin.value = params.get('admin') || localStorage.getItem('shadowd.admin') || '';
  admin.addEventListener('change', () => localStorage.setItem('shadowd.admin', adminName()));
  $('#stop').addEventListener('click', stop);
  $('#host').textContent = location.host;
  show('idle', '', state.focus ? `Session ${state.focus}: press Shadow to ask the user.` : 'Choose a session to shadow.');
  watchEvents(onEvent, (live) => {
    const pill = $('#live');
    pill.textContent = live ? 'live' : 'reconnecting…';
    pill.dataset.live = String(live);
    if (live) queueRefresh();
  });
  refresh();
  setInterval(refresh, POLL_MS);
}

init();
