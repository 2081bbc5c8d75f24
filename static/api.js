// The HTTP API (see docs/API.md), from any origin: every URL is built on the server's base.
// An ApiError's message is for the reader, in the page's language; the server's own (English)
// text is kept as `detail`.

import { errorText } from './i18n.js';

export class ApiError extends Error {
  constructor(status, code, detail, field = null, retryAfter = null) {
    super(errorText({ status, code }));
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

// What the client assumes when the server cannot tell it (GET /api/config failed).
export const DEFAULT_CONFIG = Object.freeze({
  edit_window_seconds: 900,
  author_max_chars: 80,
  body_max_chars: 10000,
  email_max_chars: 254,
  votes: 'updown',
  format: 'markdown',
  notify: false,
});

export class Api {
  constructor(base) {
    this.base = base;
  }

  url(path) {
    return new URL(path, this.base).href;
  }

  wsUrl(path) {
    const url = new URL(path, this.base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  async request(method, path, { body, token } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
      });
    } catch {
      throw new ApiError(0, 'network', 'no answer');
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = data?.error ?? {};
      throw new ApiError(
        response.status,
        error.code ?? 'http_error',
        error.message ?? `HTTP ${response.status}`,
        error.field ?? null,
        response.headers.get('Retry-After'),
      );
    }
    return data;
  }

  async config() {
    try {
      return { ...DEFAULT_CONFIG, ...(await this.request('GET', '/api/config')) };
    } catch {
      return DEFAULT_CONFIG;
    }
  }

  articles() {
    return this.request('GET', '/api/articles');
  }

  article(slug) {
    return this.request('GET', `/api/articles/${encodeURIComponent(slug)}`);
  }

  page(slug, after, limit) {
    const query = new URLSearchParams({ after: String(after), limit: String(limit) });
    return this.request('GET', `/api/articles/${encodeURIComponent(slug)}/comments?${query}`);
  }

  /** A page of threads (sort: oldest | newest | top), from a cursor the server gave. */
  sortedPage(slug, sort, limit, cursor = null) {
    const query = new URLSearchParams({ sort, limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    return this.request('GET', `/api/articles/${encodeURIComponent(slug)}/comments?${query}`);
  }

  vote(id, voter, value) {
    return this.request('POST', `/api/comments/${id}/vote`, { body: { voter, value } });
  }

  preview(body) {
    return this.request('POST', '/api/preview', { body: { body } });
  }

  post(slug, fields) {
    return this.request('POST', `/api/articles/${encodeURIComponent(slug)}/comments`, {
      body: fields,
    });
  }

  edit(id, body, token) {
    return this.request('PATCH', `/api/comments/${id}`, { body: { body }, token });
  }

  remove(id, token) {
    return this.request('DELETE', `/api/comments/${id}`, { token });
  }
}
