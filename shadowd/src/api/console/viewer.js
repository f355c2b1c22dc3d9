// The noVNC viewer, from the host's noVNC package (served at /novnc/).
// Loaded on first use, so a host without noVNC still lists its sessions
// and says what is missing instead of showing a blank page.

let rfbClass = null;

async function loadRFB() {
  if (!rfbClass) {
    try {
      rfbClass = (await import('/novnc/core/rfb.js')).default;
    } catch (e) {
      throw new Error(
        'noVNC could not be loaded from /novnc/ on this host: install the distribution\'s novnc package ' +
        `or start shadowd with --novnc-dir (${e.message || e}).`,
      );
    }
  }
  return rfbClass;
}

/// Opens a view-only viewer of `grant` (the API's answer) in `target`,
/// scaled to fit it. `on` receives connect(), disconnect(clean) and
/// refused(reason). Returns the noVNC RFB object (`.disconnect()` ends it).
export async function openViewer(target, grant, quality, on) {
  const RFB = await loadRFB();
  target.textContent = '';
  const rfb = new RFB(target, grant.url, { credentials: { password: grant.password } });
  // View-only is enforced by the server too; here it keeps the admin's
  // keys and clicks from even being sent.
  rfb.viewOnly = true;
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  if (quality !== null) rfb.qualityLevel = quality;
  rfb.addEventListener('connect', () => on.connect());
  rfb.addEventListener('disconnect', (e) => on.disconnect(Boolean(e.detail && e.detail.clean)));
  rfb.addEventListener('securityfailure', (e) => on.refused((e.detail && e.detail.reason) || 'authentication failed'));
  // The grant carries the password, so this only happens if the server
  // asks for more than a password (it never does).
  rfb.addEventListener('credentialsrequired', () => on.refused('the server asked for credentials'));
  return rfb;
}
