// Building DOM nodes. User data only ever enters the page as text nodes or textContent:
// this module has no way to parse markup, on purpose.

/**
 * h('a', { class: 'x', href, text: 'label', onclick }, child, 'text child', …)
 * Strings among the children become text nodes; null/false props and children are skipped.
 */
export function h(tag, props = {}, ...children) {
  return fill(document.createElement(tag), props, children);
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, props = {}, ...children) {
  return fill(document.createElementNS(SVG, tag), props, children);
}

function fill(el, props, children) {
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.setAttribute('class', value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child != null && child !== false) el.append(child);
  }
  return el;
}

/** Replace all children of `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
}

let counter = 0;
/** A page-unique id for label/field pairs (several threads or forms may share a page). */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}
