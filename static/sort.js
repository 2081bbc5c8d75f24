// The order of a thread: oldest (the default), newest or top. The article page's control is
// links that the server renders in that order (and remembers in a cookie); an embed builds
// buttons and remembers the choice in this browser.

import { h } from './dom.js';
import { t } from './i18n.js';

const KEY = 'realtime:sort';
export const SORTS = ['oldest', 'newest', 'top'];

export function storedSort() {
  try {
    const found = localStorage.getItem(KEY);
    return SORTS.includes(found) ? found : null;
  } catch {
    return null;
  }
}

function remember(sort) {
  try {
    localStorage.setItem(KEY, sort);
  } catch {
    // storage off: the choice lasts this visit
  }
}

/** Buttons for the embed; `onChange(sort)` starts the thread over in that order. */
export function sortControl(current, onChange) {
  return h(
    'div',
    { class: 'rt-sort', role: 'group', 'aria-label': t('sort.label') },
    h('span', { class: 'rt-sort-label', 'aria-hidden': 'true', text: t('sort.label') }),
    SORTS.map((sort) =>
      h('button', {
        type: 'button',
        class: 'rt-sort-option',
        'aria-pressed': String(sort === current),
        dataset: { sort },
        text: t(`sort.${sort}`),
        onclick: () => {
          if (sort === current) return;
          remember(sort);
          onChange(sort);
        },
      }),
    ),
  );
}
