// The side panels: current cycles, hazards, deadlock history. Lists are
// updated by key so an entry the operator opened stays open across updates.
import { cyclePicture } from './cycle-picture.js';
import { agoHtml, clock, duration, esc, memberName, withToken } from './format.js';
import { groupHistory } from './history-groups.js';

/** Rows of a big cycle's list drawn in a card (the report and the REST SVG have them all). */
const CARD_LIST_ROWS = 8;
/** Members named in a card's "members:" line. */
const MEMBERS_NAMED = 6;
/** Occurrences listed in a history group's card. */
const OCCURRENCES_LISTED = 20;

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
      const was = [...(el?.querySelectorAll('details') ?? [])];
      fresh.querySelectorAll('details').forEach((d, i) => {
        if (was[i]) d.toggleAttribute('open', was[i].open);
      });
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
  const named = report.members.slice(0, MEMBERS_NAMED).map((m) => `${esc(m.name)} <span class="why">(${esc(m.service)})</span>`);
  const rest = (report.membersTotal ?? report.members.length) - named.length;
  return named.join(', ') + (rest > 0 ? ` <span class="why">and ${rest} more</span>` : '');
}

/** `onPick(id)` focuses the graph on deadlock `id`; `focusedId` is the one focused now (its card is marked). */
export function renderCycles(root, countEl, cycles, onPick, focusedId) {
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
    (c) => `${c.status}:${c.detectedAt}`,
    (c) => {
      const el = fromHtml(`<li class="card live" title="show in the graph" data-id="${esc(c.id)}">
        <div class="card-head"><span class="badge ${esc(c.status)}">${esc(c.status)}</span><span class="id">${esc(c.id)}</span><span class="when">detected ${agoHtml(c.detectedAt)}</span></div>
        ${cyclePicture(c.report, { maxRows: CARD_LIST_ROWS })}
        <p class="verdict">members: ${members(c.report)}</p>
        ${verdict(c.report)}
        <details class="report"><summary>report</summary><pre>${esc(c.report.text)}</pre></details>
      </li>`);
      el.addEventListener('click', (ev) => {
        if (ev.target.closest('details')) return;
        const on = !el.classList.contains('focused');
        for (const other of el.parentElement?.children ?? []) other.classList.remove('focused');
        el.classList.toggle('focused', on);
        onPick(on ? c.id : null);
      });
      return el;
    },
  );
  for (const el of root.querySelectorAll('li.card')) el.classList.toggle('focused', el.dataset.id === focusedId);
}

/**
 * The history, one card per pattern (history-groups.js): how often it
 * happened, first and last seen, the latest one drawn with its report, and
 * the occurrences listed.
 */
export function renderHistory(list, countEl, history, total, serverGroups) {
  countEl.textContent = total > history.length ? `${history.length} of ${total}` : String(total);
  if (history.length === 0) {
    list.innerHTML = '<li class="empty">No deadlock so far.</li>';
    return;
  }
  syncList(
    list,
    groupHistory(history, serverGroups),
    (g) => g.signature,
    (g) => `${g.count}:${g.latest.id}:${g.latest.detectedAt}:${g.entries.map((e) => `${e.status}${e.resolvedAt ?? ''}`).join(',')}`,
    (g) => {
      const e = g.latest;
      const r = e.report;
      const ended = e.resolvedAt ? ` · over after ${duration(e.resolvedAt - e.detectedAt)}` : '';
      const seen = g.count > 1
        ? `<p class="seen"><b class="times">×${g.count}</b> first seen <span title="${esc(new Date(g.firstSeen).toISOString())}">${esc(clock(g.firstSeen))}</span>, last seen <span title="${esc(new Date(g.lastSeen).toISOString())}">${esc(clock(g.lastSeen))}</span></p>`
        : '';
      const occurrences = g.count > 1
        ? `<details class="occurrences"><summary>${g.count} occurrences</summary><ol>${g.entries.slice(0, OCCURRENCES_LISTED).map((x) => `<li><span class="id">${esc(x.id)}</span> ${esc(clock(x.detectedAt))} <span class="badge ${esc(x.status)}">${esc(x.status)}</span></li>`).join('')}${g.count > Math.min(g.entries.length, OCCURRENCES_LISTED) ? `<li class="why">and ${g.count - Math.min(g.entries.length, OCCURRENCES_LISTED)} more</li>` : ''}</ol></details>`
        : '';
      const pattern = Array.isArray(r.pattern) && r.pattern.length > 0
        ? `<details class="pattern"><summary>pattern ${esc(g.signature)}</summary><pre>${esc(r.pattern.join('\n'))}</pre></details>`
        : '';
      return fromHtml(`<li class="card history-entry" data-status="${esc(e.status)}" data-count="${g.count}" data-signature="${esc(g.signature)}">
        <div class="card-head"><span class="badge ${esc(e.status)}">${esc(e.status)}</span><span class="id">${esc(e.id)}</span><span class="when" title="${esc(new Date(e.detectedAt).toISOString())}">${esc(clock(e.detectedAt))}${esc(ended)}</span></div>
        ${seen}
        ${cyclePicture(r, { maxRows: CARD_LIST_ROWS })}
        ${verdict(r)}
        <details class="report"><summary>report (${r.membersTotal ?? r.members.length} members)</summary><pre>${esc(r.text)}</pre></details>
        ${pattern}
        ${occurrences}
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
