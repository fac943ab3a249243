// What the browser tests read off the dashboard page: where sigma drew each
// node and its label, in viewport pixels, recomputed from sigma's own display
// data and settings the way sigma's label renderer draws them (at
// (x + size + 3, y + labelSize / 3), on the baseline), not from the page's
// layout code, so a layout that lets labels collide is caught.
// (The callbacks given to page.evaluate run in the page; this package compiles
// without DOM types, so they reach the page's globals through globalThis.)
/* eslint-disable @typescript-eslint/no-explicit-any */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A new page at `url` with the page's uncaught errors collected (a test asserts there are none). */
export async function openDashboard(browser: Browser, url: string, viewport: { width: number; height: number }): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);
  return { page, pageErrors };
}

export interface Box {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

export interface DrawnNode {
  key: string;
  label: string;
  kind: string;
  deadlocks: string[];
  color: string;
  /** the disc */
  disc: Box;
  /** the label's ink box, when sigma draws the label whatever the density (deadlock members) */
  labelBox: Box | null;
}

/** Every node as drawn now. */
export function drawnNodes(page: Page): Promise<DrawnNode[]> {
  return page.evaluate(() => {
    const d = (globalThis as any).dashboard;
    const r = d.renderer;
    const ctx = (globalThis as any).document.createElement('canvas').getContext('2d');
    const size = r.getSetting('labelSize');
    ctx.font = `${r.getSetting('labelWeight')} ${size}px ${r.getSetting('labelFont')}`;
    const out: any[] = [];
    d.graph.forEachNode((key: string, a: any) => {
      const dd = r.getNodeDisplayData(key);
      if (!dd || dd.hidden) return;
      const p = r.framedGraphToViewport(dd);
      const ns = r.scaleSize(dd.size);
      let labelBox = null;
      if (dd.forceLabel && dd.label) {
        const m = ctx.measureText(dd.label);
        // on the right as sigma draws it; on the left for the nodes the page says (labelSide)
        const x0 = dd.labelSide === 'left' ? p.x - ns - 3 - m.width : p.x + ns + 3;
        const base = p.y + size / 3;
        labelBox = { x0, x1: x0 + m.width, y0: base - m.actualBoundingBoxAscent, y1: base + m.actualBoundingBoxDescent };
      }
      out.push({ key, label: dd.label, kind: a.kind, deadlocks: a.deadlocks ?? [], color: dd.color, disc: { x0: p.x - ns, x1: p.x + ns, y0: p.y - ns, y1: p.y + ns }, labelBox });
    });
    return out;
  });
}

export const intersects = (a: Box, b: Box): boolean => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

export function union(boxes: Box[]): Box {
  return {
    x0: Math.min(...boxes.map((b) => b.x0)),
    x1: Math.max(...boxes.map((b) => b.x1)),
    y0: Math.min(...boxes.map((b) => b.y0)),
    y1: Math.max(...boxes.map((b) => b.y1)),
  };
}

/** Pairs of boxes (by name) that overlap. */
export function overlapping(items: Array<{ name: string; box: Box }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) if (intersects(items[i]!.box, items[j]!.box)) out.push(`${items[i]!.name} × ${items[j]!.name}`);
  }
  return out;
}

/** Resolves after the page painted twice (sigma and the dashed-waits layer have drawn). */
export function painted(page: Page): Promise<void> {
  return page.evaluate(() => {
    const raf = (globalThis as any).requestAnimationFrame as (cb: () => void) => void;
    return new Promise<void>((r) => raf(() => raf(r)));
  });
}
