// The dashboard's layout thread: runs StableLayout (ForceAtlas2) for every
// feed, off the daemon's event loop. A layout of the drawing cap (1,000 nodes)
// takes tens to hundreds of milliseconds; here it delays nothing but the next
// dashboard frame. One StableLayout per feed, so each keeps its positions
// from frame to frame (layout.ts's stability rule).
import { parentPort } from 'node:worker_threads';
import { StableLayout } from './layout.js';
import type { LayoutReply, LayoutRequest } from './layout-thread.js';

const layouts = new Map<number, StableLayout>();

parentPort?.on('message', (m: LayoutRequest) => {
  if (m.type === 'forget') {
    layouts.delete(m.feed);
    return;
  }
  let layout = layouts.get(m.feed);
  if (!layout) layouts.set(m.feed, (layout = new StableLayout()));
  const links: Array<[string, string]> = [];
  for (let i = 0; i + 1 < m.links.length; i += 2) links.push([m.links[i] as string, m.links[i + 1] as string]);
  const positions = layout.update({ nodes: m.nodes, links });
  const xy = new Float64Array(m.nodes.length * 2);
  m.nodes.forEach((key, i) => {
    const p = positions.get(key);
    xy[2 * i] = p?.x ?? 0;
    xy[2 * i + 1] = p?.y ?? 0;
  });
  const reply: LayoutReply = { id: m.id, xy };
  parentPort?.postMessage(reply, [xy.buffer]);
});
