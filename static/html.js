// The one place where markup enters the page: a comment's `html` field, which only the server's
// sanitizer (realtime/formatting.py: markdown-it-py, then nh3 with an allow-list) makes. It is
// parsed in an inert document (no script runs, nothing loads there) and its nodes are moved in.
// Every other piece of text goes through dom.js, which cannot parse markup at all.

const parser = new DOMParser();

/** The nodes of sanitized HTML from the server, ready to append. */
export function serverHtml(html) {
  const inert = parser.parseFromString(`<!doctype html><body>${html ?? ''}`, 'text/html');
  return [...inert.body.childNodes].map((node) => document.adoptNode(node));
}
