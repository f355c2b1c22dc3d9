// What to tell the administrator, in words, for every error code of the
// control API and every reason a shadow ends. The codes are the API's
// stable contract (README, "Control API"); the server's own message is
// shown beneath as detail, since it names files, ports and admins.

const REG = 'HKLM\\Software\\Citrix\\VirtualDesktopAgent';

const ERRORS = {
  shadowing_disabled: () =>
    'Shadowing is turned off on this host. An administrator of the host can turn it on with ' +
    `shadowd reg update -k "${REG}" -v EnableSessionShadowing -d 0x00000001 (no restart needed).`,
  session_not_found: (ctx) =>
    `Session ${ctx.session} is not running on this host any more (the user may have logged out).`,
  consent_denied: (ctx) => `${ctx.user} declined: they did not allow you to shadow their session.`,
  consent_timeout: (ctx) =>
    `${ctx.user} did not answer within ${ctx.timeout} seconds, so shadowing was not allowed. You can ask again.`,
  consent_pending: () =>
    'The user is already being asked by another request. Wait for their answer, then try again.',
  no_free_port: () =>
    'No free shadowing port on this host: every port of the range is in use (at most 99 shadows at once). ' +
    'Try again when a shadow has ended.',
  tls_misconfigured: () =>
    'Secure shadowing (wss) is on, but the host\'s certificate or key is missing or invalid. ' +
    'The host administrator should check shadowingcert.* and shadowingkey.* in the SSL folder (shadowd doctor tells what is wrong).',
  display_unreachable: (ctx) =>
    `shadowd could not open ${ctx.user}'s display ${ctx.display} to ask for consent or to capture it.`,
  backend_failed: () => 'The shadowing service on the host failed to start for this session.',
  superseded: () => 'Another administrator\'s request replaced yours before you connected.',
  no_active_shadow: () => 'There is no shadow of this session to stop.',
  bad_request: () => 'The console sent a request shadowd did not accept.',
  payload_too_large: () => 'The request was too large.',
  registry_invalid: () =>
    'The host\'s shadowing settings (registry file) cannot be read. The host administrator should check it with shadowd reg query.',
  not_found: () => 'shadowd does not know this address: the console and the daemon may be different versions.',
  internal: () => 'shadowd hit an internal error or is shutting down.',
  network: () => 'Cannot reach shadowd: the daemon may have stopped, or the network is down.',
};

/// A sentence for an API error code; `ctx` names the session and user.
export function errorMessage(code, ctx) {
  const make = ERRORS[code];
  return make ? make(ctx) : `Shadowing failed (${code}).`;
}

/// A sentence for why a shadow ended (`ended` reasons, `taken_over`).
export function endMessage(reason, ctx) {
  switch (reason) {
    case 'taken_over':
      return `You were replaced by another administrator${ctx.by ? ` (${ctx.by})` : ''}: ` +
        `${ctx.user} allowed them to shadow this session, which ends yours.`;
    case 'stopped_by_user':
      return `${ctx.user} stopped the shadowing from their own screen.`;
    case 'deleted':
      return ctx.stoppedHere ? 'You stopped shadowing.' : 'The shadow was stopped through the control API.';
    case 'admin_disconnected':
      return 'The viewer disconnected.';
    case 'session_ended':
      return `${ctx.user}'s session ended (logged out or the display closed).`;
    case 'never_connected':
      return 'The viewer did not connect in time, so the shadow was closed.';
    case 'backend_exited':
    case 'backend_failed':
      return 'The shadowing service on the host stopped unexpectedly.';
    case 'shutdown':
      return 'shadowd on the host is shutting down.';
    default:
      return `The shadow ended (${reason}).`;
  }
}

/// A sessions-table cell for a session's current shadow.
export function shadowState(shadow) {
  if (!shadow) return 'not shadowed';
  switch (shadow.state) {
    case 'asking_user': return `asking the user (for ${shadow.admin})`;
    case 'starting': return `starting for ${shadow.admin}`;
    case 'awaiting_admin': return `waiting for ${shadow.admin} to connect`;
    case 'connected': return `shadowed by ${shadow.admin}`;
    default: return `${shadow.state} (${shadow.admin})`;
  }
}

/// What the page says about the transport: wss is TLS, ws is not.
export function transportLabel(scheme) {
  return scheme === 'wss' ? 'wss:// — encrypted (TLS)' : 'ws:// — not encrypted';
}

/// The viewer's connection failed before it ever connected: the browser
/// refused it (wss: most often an untrusted certificate) or could not
/// reach the port.
export function unreachableMessage(grant) {
  const where = `${grant.host}:${grant.port}`;
  if (grant.scheme === 'wss') {
    return `Your browser could not open the secure connection to ${where}. Most often it does not trust ` +
      `the host's certificate (it must be issued for ${grant.host} by an authority this browser trusts), ` +
      `or cannot resolve ${grant.host}. The host administrator can check the certificate with shadowd doctor.`;
  }
  return `Your browser could not connect to ${where}: ${grant.host} may not resolve from here, ` +
    `or a firewall blocks port ${grant.port}.`;
}
