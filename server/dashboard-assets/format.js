// Small text helpers shared by the panels.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
// Control characters (allowed in names on the wire) are not allowed in XML at all: the
// standalone SVG would not parse. They become U+FFFD.
// eslint-disable-next-line no-control-regex
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]).replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '\uFFFD');

/** "4 s", "3 min", "2 h" */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}

/** Local wall-clock time, with the date when it is not today. */
export function clock(ts) {
  const d = new Date(ts);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

/** "3 s ago", kept fresh by refreshRelativeTimes() via data-since. */
export const agoHtml = (ts) => `<span data-since="${Number(ts)}">${duration(Date.now() - ts)} ago</span>`;

export function refreshRelativeTimes(root = document) {
  for (const el of root.querySelectorAll('[data-since]')) {
    el.textContent = `${duration(Date.now() - Number(el.dataset.since))} ago`;
  }
}

/** `<client>/<owner>` → the owner's name from a report's members. */
export function memberName(report, ref) {
  const m = report.members.find((x) => `${x.client}/${x.owner}` === ref);
  return m ? m.name : ref;
}

/** Appends the page's ?token= (if any) to a same-origin URL. */
export function withToken(url) {
  const token = new URLSearchParams(location.search).get('token');
  if (!token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
