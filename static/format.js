// Words and numbers shown to the reader.

const number = new Intl.NumberFormat('en');
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

export function countHeading(count, title) {
  if (count === 0) return title ? `No comments yet on “${title}”` : 'No comments yet';
  const noun = count === 1 ? 'Comment' : 'Comments';
  return title ? `${number.format(count)} ${noun} on “${title}”` : `${number.format(count)} ${noun}`;
}

export function countLabel(count) {
  if (count === 0) return 'No comments';
  return `${number.format(count)} ${count === 1 ? 'comment' : 'comments'}`;
}

export function readers(count) {
  return `${number.format(count)} reading now`;
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
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size || unit === 'minute') {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return 'just now';
}

export function fullDate(iso) {
  return absolute.format(new Date(iso));
}

/** Length as the server counts it: code points, not UTF-16 units. */
export function chars(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}
