// A comment body as DOM: blank lines separate paragraphs, single newlines become <br>, and
// http(s) URLs become links. Everything else is a text node; nothing is parsed as markup.

import { h } from './dom.js';

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;
// Punctuation that usually ends a sentence rather than the URL.
const TRAILING = /[.,;:!?'")\]}»”’]+$/;

export function bodyNodes(body) {
  return body
    .replace(/\r\n?/g, '\n')
    .split(/\n\s*\n/)
    .map((block) => block.replace(/^\n+|\n+$/g, ''))
    .filter((block) => block.trim() !== '')
    .map((block) => h('p', {}, lines(block)));
}

function lines(block) {
  const nodes = [];
  block.split('\n').forEach((line, index) => {
    if (index > 0) nodes.push(h('br'));
    nodes.push(...linkify(line));
  });
  return nodes;
}

function linkify(line) {
  const nodes = [];
  let last = 0;
  for (const match of line.matchAll(URL_PATTERN)) {
    let url = match[0];
    const tail = url.match(TRAILING);
    if (tail) url = url.slice(0, -tail[0].length);
    const href = safeHref(url);
    if (!href) continue;
    nodes.push(line.slice(last, match.index));
    nodes.push(h('a', { href, rel: 'nofollow ugc noopener', target: '_blank', text: url }));
    last = match.index + url.length;
  }
  nodes.push(line.slice(last));
  return nodes.filter((node) => node !== '');
}

function safeHref(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
