// Dashboard entry: wires the live feed to the graph and the panels, and
// exposes the current state on `window.dashboard` (for people poking in the
// console and for the browser test).
import { GraphView } from './graph-view.js';
import { openLive } from './live-socket.js';
import { refreshHazards, renderCycles, renderHistory } from './panels.js';
import { refreshRelativeTimes } from './format.js';

const $ = (id) => document.getElementById(id);
const HAZARD_POLL_MS = 5000;

// The node popup names the node's deadlocks: it is redrawn from every frame
// (and closed when its node is gone), so it never names one that no longer
// exists, e.g. after the daemon restarted.
const info = $('node-info');
let infoKey = null;
function closeInfo() {
  infoKey = null;
  info.hidden = true;
  info.replaceChildren();
}
function showInfo(key) {
  if (!key || !view.graph.hasNode(key)) return closeInfo();
  infoKey = key;
  info.innerHTML = `<button class="close" title="close">×</button>${view.describe(key)}`;
  info.dataset.key = key;
  info.querySelector('.close').onclick = closeInfo;
  info.hidden = false;
}
const view = new GraphView($('graph'), {
  onNodeClick(key) {
    if (!key) {
      closeInfo();
      view.setFocus(null);
      return;
    }
    showInfo(key);
  },
});

const state = {
  ready: false,
  connection: 'connecting',
  frames: 0,
  frame: null,
  view,
  graph: view.graph,
  renderer: view.renderer,
};
window.dashboard = state;

function renderStats(frame) {
  const s = frame.stats;
  const items = [
    ['owners', s.owners],
    ['resources', s.resources],
    ['holds', s.holds],
    ['waits', s.waits],
    ['deadlocks', frame.cycles.length, frame.cycles.length > 0],
  ];
  $('stats').innerHTML = items
    .map(([k, v, alert]) => `<div class="${alert ? 'alert' : ''}"><dt>${k}</dt><dd>${v}</dd></div>`)
    .join('');
}

function renderNote(frame) {
  const note = $('graph-note');
  note.classList.remove('banner');
  if (frame.graph.nodes.length === 0) {
    note.textContent = frame.view === 'blocked' ? 'Nobody is waiting right now.' : 'No task holds or waits for anything right now.';
    note.hidden = false;
  } else if (frame.capped) {
    note.textContent = `The graph has ${frame.stats.owners + frame.stats.resources} nodes: only ${frame.maxDrawnNodes} of its ${frame.truncated || frame.view === 'blocked' ? 'blocked part' : 'nodes'} are drawn.`;
    note.classList.add('banner');
    note.hidden = false;
  } else if (frame.truncated) {
    note.textContent = `The graph has ${frame.stats.owners + frame.stats.resources} nodes: only its blocked part is drawn.`;
    note.classList.add('banner');
    note.hidden = false;
  } else {
    note.hidden = true;
  }
}

function onFrame(frame) {
  state.frame = frame;
  state.frames++;
  $('namespace').textContent = frame.namespace;
  view.load(frame);
  if (infoKey) showInfo(infoKey);
  renderStats(frame);
  renderNote(frame);
  renderCycles($('cycles'), $('cycles-count'), frame.cycles, (id) => view.setFocus(id), view.focusId);
  renderHistory($('history'), $('history-count'), frame.history, frame.historyTotal, frame.historyGroups);
  state.ready = true;
}

function onState(s) {
  // Lost the daemon: what the page shows may be gone when it is back (a
  // restart forgets its deadlocks). The next frame redraws everything; until
  // then nothing stays focused on, or pops up, a deadlock that may not exist.
  if (s === 'down' && state.connection !== 'down') {
    closeInfo();
    view.setFocus(null);
  }
  state.connection = s;
  const el = $('conn');
  el.className = `conn ${s}`;
  el.textContent = s === 'live' ? 'live' : s === 'down' ? 'disconnected, retrying…' : 'connecting…';
}

let live = openLive({ blockedOnly: false, onFrame, onState });
$('blocked-only').addEventListener('change', (ev) => {
  live.close();
  live = openLive({ blockedOnly: ev.target.checked, onFrame, onState });
});

const hazards = () => refreshHazards($('hazards'), $('hazards-count'));
void hazards();
setInterval(hazards, HAZARD_POLL_MS);
setInterval(() => refreshRelativeTimes(), 1000);
