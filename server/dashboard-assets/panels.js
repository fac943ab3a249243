// The side panels: current cycles, hazards, deadlock history. Lists are
// updated by key so an entry the operator opened stays open across updates.
import { cyclePicture } from './cycle-picture.js';
import { agoHtml, clock, duration, esc, memberName, withToken } from './format.js';

/**
 * Makes `list`'s children match `items` (by key), building an element only for
 * a new item or one whose signature changed; keeps <details> open states.
 */
function syncList(list, items, keyOf, signatureOf, build) {
  const old = new Map([...list.children].filter((el) => el.dataset.key).map((el) => [el.dataset.key, el]));
  const wanted = [];
  for (const item of items) {
    const key = keyOf(item);
    const sig = signatureOf(item);
    let el = old.get(key);
    if (!el || el.dataset.sig !== sig) {
      const fresh = build(item);
      fresh.dataset.key = key;
      fresh.dataset.sig = sig;
      const wasOpen = el?.querySelector('details')?.open;
      if (wasOpen !== undefined) fresh.querySelector('details')?.toggleAttribute('open', wasOpen);
      el = fresh;
    }
    wanted.push(el);
  }
  list.replaceChildren(...wanted);
}

function fromHtml(html) {
  const t = document.createElement('template');
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}

function verdict(report) {
  if (!report.victim) {
    return `<p class="verdict"><b>no victim</b> <span class="why">— no member's wait can be aborted; reported only</span></p>`;
  }
  return `<p class="verdict">victim: <b>${esc(memberName(report, report.victim.owner))}</b> <span class="why">— ${esc(report.victim.reason)}</span></p>`;
}

function members(report) {
  return report.members.map((m) => `${esc(m.name)} <span class="why">(${esc(m.service)})</span>`).join(', ');
}

export function renderCycles(root, countEl, cycles, onPick) {
  countEl.textContent = String(cycles.length);
  countEl.classList.toggle('hot', cycles.length > 0);
  if (cycles.length === 0) {
    root.innerHTML = '<p class="empty">No deadlock right now.</p>';
    return;
  }
  if (!root.querySelector('ol')) root.innerHTML = '<ol class="cards"></ol>';
  syncList(
    root.querySelector('ol'),
    cycles,
    (c) => c.id,
    (c) => c.status,
    (c) => {
      const el = fromHtml(`<li class="card live" title="show in the graph">
        <div class="card-head"><span class="badge ${esc(c.status)}">${esc(c.status)}</span><span class="id">${esc(c.id)}</span><span class="when">detected ${agoHtml(c.detectedAt)}</span></div>
        ${cyclePicture(c.report)}
        <p class="verdict">members: ${members(c.report)}</p>
        ${verdict(c.report)}
        <details class="report"><summary>report</summary><pre>${esc(c.report.text)}</pre></details>
      </li>`);
      el.addEventListener('click', (ev) => {
        if (ev.target.closest('details')) return;
        onPick(c.report.members.map((m) => `o:${m.client}/${m.owner}`));
      });
      return el;
    },
  );
}

export function renderHistory(list, countEl, history, total) {
  countEl.textContent = total > history.length ? `${history.length} of ${total}` : String(total);
  if (history.length === 0) {
    list.innerHTML = '<li class="empty">No deadlock so far.</li>';
    return;
  }
  syncList(
    list,
    history,
    (e) => e.id,
    (e) => `${e.status}:${e.resolvedAt ?? ''}`,
    (e) => {
      const r = e.report;
      const ended = e.resolvedAt ? ` · over after ${duration(e.resolvedAt - e.detectedAt)}` : '';
      return fromHtml(`<li class="card history-entry" data-status="${esc(e.status)}">
        <div class="card-head"><span class="badge ${esc(e.status)}">${esc(e.status)}</span><span class="id">${esc(e.id)}</span><span class="when" title="${esc(new Date(e.detectedAt).toISOString())}">${esc(clock(e.detectedAt))}${esc(ended)}</span></div>
        ${cyclePicture(r)}
        ${verdict(r)}
        <details class="report"><summary>report (${r.members.length} members)</summary><pre>${esc(r.text)}</pre></details>
      </li>`);
    },
  );
}

/** GET /v1/hazards when the daemon has it; 'none reported' otherwise. */
export async function refreshHazards(root, countEl) {
  let items = [];
  try {
    const res = await fetch(withToken('/v1/hazards'), { headers: { accept: 'application/json' } });
    if (res.ok) {
      const body = await res.json();
      items = Array.isArray(body) ? body : Array.isArray(body?.hazards) ? body.hazards : Array.isArray(body?.items) ? body.items : [];
    }
  } catch {
    // daemon unreachable: the connection badge says so already
  }
  countEl.textContent = String(items.length);
  if (items.length === 0) {
    root.innerHTML = '<p class="empty">none reported</p>';
    return;
  }
  root.innerHTML = items
    .map((h) => `<div class="hazard"><span class="kind">${esc(h.kind ?? 'hazard')}</span>${esc(h.text ?? JSON.stringify(h))}</div>`)
    .join('');
}
