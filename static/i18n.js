// The message catalog (GET /i18n.json, made from static/i18n/{lang}.json: the same files the
// server renders its pages with). Flat keys, {name} placeholders, and plurals as objects of
// CLDR categories chosen with Intl.PluralRules. One language per page: the page's own, or an
// embed's data-lang, else the server's setting.

let current = { lang: 'en', messages: {} };
let plurals = new Intl.PluralRules('en');
let numbers = new Intl.NumberFormat('en');

/** Fetch and use a language's catalog ('' or unknown: the server's language). */
export async function loadLanguage(base, lang = '') {
  const url = new URL('/i18n.json', base);
  if (lang) url.searchParams.set('lang', lang);
  const response = await fetch(url.href, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`the catalog answered ${response.status}`);
  useCatalog(await response.json());
  return current.lang;
}

/** Use a catalog already in hand ({lang, messages}). */
export function useCatalog(catalog) {
  current = catalog;
  plurals = new Intl.PluralRules(catalog.lang);
  numbers = new Intl.NumberFormat(catalog.lang);
}

export function language() {
  return current.lang;
}

function fill(template, params) {
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A message; an unknown key shows itself (and warns), so a missing text is easy to spot. */
export function t(key, params = {}) {
  const message = current.messages[key];
  if (typeof message !== 'string') {
    console.warn(`realtime: no message ${key}`);
    return key;
  }
  return fill(message, params);
}

/** A plural message: {n} is the count, formatted for the language. */
export function tn(key, count, params = {}) {
  const forms = current.messages[key];
  if (!forms || typeof forms !== 'object') {
    console.warn(`realtime: no plural message ${key}`);
    return key;
  }
  const form = forms[plurals.select(count)] ?? forms.other;
  return fill(form, { ...params, n: numbers.format(count) });
}

/** A message whose placeholders are DOM nodes: the text around them, and the nodes, in order. */
export function tNodes(key, nodes) {
  return t(key)
    .split(/(\{\w+\})/)
    .filter((part) => part !== '')
    .map((part) => nodes[part.slice(1, -1)] ?? part);
}

export function formatNumber(value) {
  return numbers.format(value);
}

/** What to tell the reader about a refused or failed request (the API's texts are English). */
export function errorText(error) {
  if (error.status === 0) return t('error.network');
  const key = `error.${error.code}`;
  return key in current.messages ? t(key) : t('error.other', { status: error.status });
}
