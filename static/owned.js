// The reader's own comments: the author token from the POST, kept in localStorage with the
// comment id and creation time, until the edit window closes.
//
// `expires` is in the browser's clock: the moment the POST answered plus the window, so a
// wrong clock on the reader's machine does not matter. A small margin hides the buttons a
// little before the server would start refusing.

const MARGIN = 2000; // ms

export class OwnComments {
  constructor(base) {
    this.key = `realtime:own:${base}`;
    this.entries = this.load();
  }

  load() {
    try {
      const raw = JSON.parse(localStorage.getItem(this.key) ?? '{}');
      const now = Date.now();
      return Object.fromEntries(Object.entries(raw).filter(([, entry]) => entry.expires > now));
    } catch {
      return {}; // storage disabled or corrupt: the reader just cannot edit
    }
  }

  save() {
    try {
      localStorage.setItem(this.key, JSON.stringify(this.entries));
    } catch {
      // private mode or quota: editing works until the page is left
    }
  }

  remember(comment, token, windowSeconds) {
    if (windowSeconds <= 0) return;
    this.entries[comment.id] = {
      token,
      created: comment.created,
      expires: Date.now() + windowSeconds * 1000 - MARGIN,
    };
    this.save();
  }

  /** The entry for a comment whose edit window is still open, or null. */
  get(id) {
    const entry = this.entries[id];
    if (!entry) return null;
    if (entry.expires <= Date.now()) {
      this.forget(id);
      return null;
    }
    return entry;
  }

  forget(id) {
    if (!(id in this.entries)) return;
    delete this.entries[id];
    this.save();
  }
}

/** Remembered name, so a returning reader does not type it again. */
export const remembered = {
  get(field) {
    try {
      return localStorage.getItem(`realtime:${field}`) ?? '';
    } catch {
      return '';
    }
  },
  set(field, value) {
    try {
      localStorage.setItem(`realtime:${field}`, value);
    } catch {
      // ignore
    }
  },
};
