// The control API as the console calls it. Every call resolves to
// `{ok: true, body}` or `{ok: false, code, message}` so the page has one
// place to turn failures (including an unreachable daemon) into words.

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
      cache: 'no-store',
    });
  } catch (e) {
    return { ok: false, code: 'network', message: String(e) };
  }
  let json = null;
  try {
    json = await response.json();
  } catch (_) {
    // Not JSON: reported below with the status.
  }
  if (response.ok && json) return { ok: true, body: json };
  if (json && json.error) return { ok: false, code: json.error, message: json.message || '' };
  return { ok: false, code: 'internal', message: `HTTP ${response.status}` };
}

export const listSessions = () => call('GET', '/v1/sessions');

/// Waits for the user's answer (up to the consent timeout).
export const requestShadow = (session, admin) =>
  call('POST', `/v1/sessions/${encodeURIComponent(session)}/shadow`, { admin });

export const stopShadow = (session) => call('DELETE', `/v1/sessions/${encodeURIComponent(session)}/shadow`);

/// The audit stream. `onEvent(record)` for each event; `onState(live)` when
/// the stream opens or breaks (EventSource reconnects by itself, resuming
/// after the last event id it saw).
export function watchEvents(onEvent, onState) {
  const source = new EventSource('/v1/events');
  source.addEventListener('open', () => onState(true));
  source.addEventListener('error', () => onState(false));
  source.addEventListener('audit', (e) => {
    try {
      onEvent(JSON.parse(e.data));
    } catch (_) {
      // A malformed event is not worth breaking the page for.
    }
  });
  return source;
}
