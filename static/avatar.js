// An identicon from the comment's `avatar` digest: a symmetric 5x5 pattern in one colour.
// Built as SVG nodes with presentation attributes (no inline style: the pages' CSP forbids it).

import { svg } from './dom.js';

export function identicon(digest, size = 40) {
  const hex = /^[0-9a-f]{12,}$/i.test(digest) ? digest : '0'.repeat(32);
  const hue = Math.round((parseInt(hex.slice(0, 4), 16) / 0xffff) * 360);
  const colour = `hsl(${hue} 55% 48%)`;
  const cells = [];
  // 15 bits pick the left three columns; the right two mirror them.
  const bits = parseInt(hex.slice(4, 8), 16);
  for (let i = 0; i < 15; i += 1) {
    if (!((bits >> i) & 1)) continue;
    const col = Math.floor(i / 5);
    const row = i % 5;
    for (const x of new Set([col, 4 - col])) {
      cells.push(svg('rect', { x: 1.5 + x, y: 1.5 + row, width: 1.02, height: 1.02 }));
    }
  }
  return svg(
    'svg',
    {
      class: 'rt-avatar',
      viewBox: '0 0 8 8',
      width: size,
      height: size,
      'aria-hidden': 'true',
      focusable: 'false',
    },
    svg('rect', { width: 8, height: 8, rx: 4, fill: `hsl(${hue} 60% 93%)` }),
    svg('g', { fill: colour }, cells),
  );
}
