// Words and numbers shown to the reader, in the page's language (see i18n.js).

import { language, t, tn } from './i18n.js';

const formats = new Map(); // language -> { relative, absolute }

function formatsFor(lang) {
  if (!formats.has(lang)) {
    formats.set(lang, {
      relative: new Intl.RelativeTimeFormat(lang, { numeric: 'auto' }),
      absolute: new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }),
    });
  }
  return formats.get(lang);
}

export function countHeading(count, title) {
  if (count === 0) return title ? t('count.heading_none_on', { title }) : t('count.heading_none');
  return title ? tn('count.heading_on', count, { title }) : tn('count.heading', count);
}

export function countLabel(count) {
  return count === 0 ? t('count.label_none') : tn('count.label', count);
}

export function readers(count) {
  return tn('count.readers', count);
}

const STEPS = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['week', 7 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];

/** "just now", "5 minutes ago", "yesterday", … */
export function ago(iso, now = Date.now()) {
  const seconds = Math.min(0, (Date.parse(iso) - now) / 1000); // a fast server clock: "just now"
  if (Math.abs(seconds) < 45) return t('time.just_now');
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size || unit === 'minute') {
      return formatsFor(language()).relative.format(Math.round(seconds / size), unit);
    }
  }
  return t('time.just_now');
}

export function fullDate(iso) {
  return formatsFor(language()).absolute.format(new Date(iso));
}

/** Length as the server counts it: code points, not UTF-16 units. */
export function chars(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}
