/*
 * Parlor's web chat widget.
 *
 * A site adds it with one tag: <script src="https://parlor.example/widget/<webChatId>.js" async></script>.
 * It adds a launcher button and a chat panel to the page, inside a shadow root so the page's
 * CSS does not reach it (and its CSS does not reach the page). The hosted page /chat/<id>
 * loads the same script with data-mode="page", and the panel then fills the page.
 *
 * It talks only to the public visitor API (/api/widget/<id>/...), never with an API key: a
 * visitor session is started on first use and its token kept in localStorage, so the
 * conversation survives reloads. Replies stream in (the completions stream's format), and
 * agents' messages arrive live through the conversation's event stream; both are read with
 * fetch (not EventSource, which cannot send the Authorization header).
 *
 * Bot and agent text is shown as a small, safe subset of Markdown. It is never parsed as
 * HTML: the renderer builds DOM nodes, and every piece of text goes in as a text node, so
 * text can only ever be text (the strongest form of "escape, then format"). Links are kept
 * only for http(s) URLs and open with rel="noopener noreferrer".
 *
 * Plain modern JavaScript with no dependencies and no build step: Parlor embeds this file.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || !script.src) return;
  const src = new URL(script.src, location.href);
  const found = /\/widget\/([0-9a-fA-F-]{36})\.js$/.exec(src.pathname);
  if (!found) {
    console.warn("Parlor widget: cannot tell the web chat from", src.href);
    return;
  }
  const WEB_CHAT = found[1].toLowerCase();
  const API = `${src.origin}/api/widget/${WEB_CHAT}`;
  const PAGE_MODE = script.dataset.mode === "page";
  const STORE_KEY = `parlor-widget:${WEB_CHAT}`;
  const RECONNECT_MS = 2000;

  // ---------------------------------------------------------------------------------------
  // Storage: the session token, per site and web chat. Private modes may refuse storage; the
  // chat then still works, for this page view only.

  const saved = {
    read() {
      try {
        return JSON.parse(localStorage.getItem(STORE_KEY) || "{}") || {};
      } catch {
        return {};
      }
    },
    write(value) {
      try {
        localStorage.setItem(STORE_KEY, JSON.stringify(value));
      } catch {
        /* storage refused: keep going without it */
      }
    },
  };

  // ---------------------------------------------------------------------------------------
  // The visitor API.

  class ApiError extends Error {
    constructor(status, detail, retryAfter) {
      super(detail);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  let token = saved.read().token || null;

  function request(method, path, { body, signal, headers = {}, form } = {}) {
    const h = { ...headers };
    if (token) h.Authorization = `Visitor ${token}`;
    let payload;
    if (form) payload = form;
    else if (body !== undefined) {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(API + path, { method, headers: h, body: payload, signal, mode: "cors", credentials: "omit" });
  }

  /** The error a failed response describes, in the API's `{"detail"}` or field shapes. */
  async function failure(response) {
    let detail = `Request failed (${response.status}).`;
    try {
      const body = await response.json();
      if (typeof body.detail === "string") detail = body.detail;
      else {
        const first = Object.values(body).flat()[0];
        if (typeof first === "string") detail = first;
      }
    } catch {
      /* not JSON */
    }
    return new ApiError(response.status, detail, Number(response.headers.get("Retry-After")) || 0);
  }

  async function json(method, path, options) {
    const response = await request(method, path, options);
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  /** Server-Sent Events from a fetch response: {event, data, id} objects. */
  async function* events(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = (buffer + value).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = { event: "message", data: [], id: null };
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue; // comments (`: ping`)
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? "" : line.slice(colon + 1);
          if (text.startsWith(" ")) text = text.slice(1);
          if (field === "data") event.data.push(text);
          else if (field === "event") event.event = text;
          else if (field === "id") event.id = text;
        }
        if (event.data.length) yield { ...event, data: event.data.join("\n") };
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Safe Markdown: text in, DOM nodes out, never HTML.

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** An http(s) URL as the browser resolves it, or null for anything else. */
  function safeUrl(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function link(href, into) {
    const a = el("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    into.append(a);
    return a;
  }

  // Code, bold, italic, [text](url), bare URLs, line breaks.
  const INLINE =
    "(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)" +
    "|\\*\\*([\\s\\S]+?)\\*\\*|(?<![\\w])__([\\s\\S]+?)__(?![\\w])" +
    "|\\*(?![\\s*])([\\s\\S]+?)\\*|(?<![\\w])_(?![\\s_])([\\s\\S]+?)_(?![\\w])" +
    "|\\[([^\\]\\n]+)\\]\\(([^()\\s]+)\\)" +
    "|(https?:\\/\\/[^\\s<>()\"']+[^\\s<>()\"'.,;:!?])" +
    "|(\\n)";

  function inline(text, into) {
    const pattern = new RegExp(INLINE, "g");
    let last = 0;
    let m;
    while ((m = pattern.exec(text))) {
      if (m.index > last) into.append(document.createTextNode(text.slice(last, m.index)));
      last = pattern.lastIndex;
      if (m[1]) into.append(el("code", "", m[2]));
      else if (m[3] || m[4]) inline(m[3] || m[4], into.appendChild(el("strong")));
      else if (m[5] || m[6]) inline(m[5] || m[6], into.appendChild(el("em")));
      else if (m[7]) {
        const href = safeUrl(m[8]);
        if (href) inline(m[7], link(href, into));
        else into.append(document.createTextNode(m[0]));
      } else if (m[9]) {
        const href = safeUrl(m[9]);
        if (href) link(href, into).textContent = m[9];
        else into.append(document.createTextNode(m[9]));
      } else if (m[10]) into.append(el("br"));
    }
    if (last < text.length) into.append(document.createTextNode(text.slice(last)));
  }

  const LIST_ITEM = /^\s*([-*+]|\d+[.)])\s+/;

  /** Renders `text` into `into`: paragraphs, headings (as bold lines), lists, fenced code. */
  function markdown(text, into) {
    into.replaceChildren();
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    let paragraph = [];
    const flush = () => {
      if (paragraph.length) inline(paragraph.join("\n"), into.appendChild(el("p")));
      paragraph = [];
    };
    for (let i = 0; i < lines.length; ) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        flush();
        const code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        i++;
        into.appendChild(el("pre")).append(el("code", "", code.join("\n")));
      } else if (/^#{1,6}\s+/.test(line)) {
        flush();
        inline(line.replace(/^#{1,6}\s+/, ""), into.appendChild(el("p", "heading")).appendChild(el("strong")));
        i++;
      } else if (LIST_ITEM.test(line)) {
        flush();
        const ordered = /^\s*\d/.test(line);
        const list = into.appendChild(el(ordered ? "ol" : "ul"));
        for (; i < lines.length && LIST_ITEM.test(lines[i]) && /^\s*\d/.test(lines[i]) === ordered; i++) {
          inline(lines[i].replace(LIST_ITEM, ""), list.appendChild(el("li")));
        }
      } else if (!line.trim()) {
        flush();
        i++;
      } else {
        paragraph.push(line);
        i++;
      }
    }
    flush();
  }

  // ---------------------------------------------------------------------------------------
  // Styles, scoped to the shadow root. `all: initial` on the host stops the page's inherited
  // styles (font, color, line-height) at the boundary.

  const STYLE = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    .root { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; }
    button { font: inherit; cursor: pointer; }
    button:focus-visible, textarea:focus-visible, a:focus-visible, .log:focus-visible {
      outline: 3px solid #93c5fd; outline-offset: 2px; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;
      border-radius: 50%; border: 0; background: #2563eb; color: #fff; display: grid; place-items: center;
      box-shadow: 0 6px 20px rgba(0,0,0,.25); }
    .launcher:hover { background: #1d4ed8; }
    .launcher svg { width: 28px; height: 28px; }
    .launcher .badge { position: absolute; top: 4px; right: 4px; width: 12px; height: 12px; border-radius: 50%;
      background: #ef4444; border: 2px solid #fff; }
    .panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 380px;
      height: min(620px, calc(100vh - 110px)); display: flex; flex-direction: column; background: #fff;
      border-radius: 14px; box-shadow: 0 12px 40px rgba(0,0,0,.25); overflow: hidden; }
    .panel[hidden] { display: none; }
    .page .panel { inset: 0; width: auto; height: auto; max-width: 760px; margin: 0 auto; border-radius: 0;
      box-shadow: 0 0 24px rgba(0,0,0,.08); }
    header { display: flex; align-items: center; gap: 8px; padding: 14px 16px; background: #2563eb; color: #fff; }
    header h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 600; }
    .close { border: 0; background: transparent; color: #fff; width: 32px; height: 32px; border-radius: 8px;
      font-size: 22px; line-height: 1; }
    .close:hover { background: rgba(255,255,255,.15); }
    .log { flex: 1; overflow-y: auto; padding: 16px; display: flex; flex-direction: column; gap: 10px;
      background: #f9fafb; overscroll-behavior: contain; }
    .msg { max-width: 85%; padding: 9px 13px; border-radius: 14px; overflow-wrap: anywhere; }
    .msg .who { font-size: 12px; font-weight: 600; color: #4b5563; margin-bottom: 2px; }
    .msg.user { align-self: flex-end; background: #2563eb; color: #fff; border-bottom-right-radius: 4px; }
    .msg.user a { color: #fff; }
    .msg.bot, .msg.agent, .msg.system { align-self: flex-start; background: #fff; border: 1px solid #e5e7eb;
      border-bottom-left-radius: 4px; }
    .msg.agent { border-color: #a7f3d0; background: #ecfdf5; }
    .msg.failed { opacity: .6; }
    .msg p { margin: 0 0 .5em; } .msg p:last-child { margin-bottom: 0; }
    .msg ul, .msg ol { margin: 0 0 .5em; padding-left: 1.3em; }
    .msg code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: rgba(0,0,0,.06);
      padding: 1px 4px; border-radius: 4px; }
    .msg pre { margin: 0 0 .5em; padding: 8px; background: #111827; color: #f9fafb; border-radius: 8px;
      overflow-x: auto; }
    .msg pre code { background: none; padding: 0; color: inherit; }
    .msg a { color: #1d4ed8; }
    .msg img { display: block; max-width: 100%; max-height: 240px; border-radius: 8px; margin-top: 6px; }
    .typing::after { content: "…"; animation: blink 1s infinite; }
    @keyframes blink { 50% { opacity: .3; } }
    .notice { padding: 6px 16px; font-size: 13px; color: #991b1b; background: #fef2f2; }
    .notice:empty { display: none; }
    .pending { display: flex; gap: 6px; flex-wrap: wrap; padding: 0 12px; }
    .pending:empty { display: none; }
    .chip { font-size: 12px; background: #eef2ff; border-radius: 999px; padding: 3px 4px 3px 10px; margin-top: 8px; }
    .chip button { border: 0; background: none; padding: 0 6px; }
    form { display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px; border-top: 1px solid #e5e7eb;
      background: #fff; }
    textarea { flex: 1; resize: none; min-height: 40px; max-height: 140px; padding: 9px 12px; font: inherit;
      color: inherit; border: 1px solid #d1d5db; border-radius: 10px; background: #fff; }
    .send, .attach { flex: none; width: 40px; height: 40px; border-radius: 10px; border: 0; display: grid;
      place-items: center; }
    .send { background: #2563eb; color: #fff; }
    .send:disabled { background: #93c5fd; cursor: default; }
    .attach { background: #f3f4f6; color: #374151; }
    .send svg, .attach svg { width: 20px; height: 20px; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    @media (max-width: 480px) {
      .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
      .panel:not([hidden]) ~ .launcher { display: none; } /* the panel's own close button serves */
      .msg { max-width: 92%; }
      textarea { font-size: 16px; } /* no zoom on focus in mobile Safari */
    }
    @media (prefers-reduced-motion: reduce) { .typing::after { animation: none; } }
  `;

  const ICON_CHAT =
    '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  const ICON_SEND =
    '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M3 20l18-8L3 4v6l12 2-12 2z"/></svg>';
  const ICON_ATTACH =
    '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true"><path d="M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"/></svg>';

  // ---------------------------------------------------------------------------------------
  // The widget.

  /** Characters as the server counts them (Unicode scalar values, not UTF-16 units). */
  const length = (s) => Array.from(s).length;
  const prefix = (s, n) => Array.from(s).slice(0, n).join("");

  class Widget {
    constructor(settings) {
      this.settings = settings;
      this.conversation = null;
      this.bubbles = new Map(); // message id → {node, body, text, final}
      this.pending = []; // the visitor's messages sent but not yet confirmed
      this.attachments = []; // uploaded, to go with the next message
      this.follow = null; // the events stream's AbortController
      this.lastEventId = null;
      this.started = null; // the session start, once
      this.build();
    }

    build() {
      const host = document.createElement("div");
      host.setAttribute("data-parlor-widget", WEB_CHAT);
      // The host element itself is in the page: an inline `!important` reset outranks the
      // page's own rules for it (`div { border: … }`), which `:host` in the shadow cannot.
      host.setAttribute("style", "all: initial !important");
      this.shadow = host.attachShadow({ mode: "open" });
      const style = document.createElement("style");
      style.textContent = STYLE;
      const root = el("div", PAGE_MODE ? "root page" : "root");
      this.shadow.append(style, root);

      const panelId = "parlor-panel";
      this.panel = el("section", "panel");
      this.panel.id = panelId;
      this.panel.setAttribute("role", PAGE_MODE ? "region" : "dialog");
      this.panel.setAttribute("aria-labelledby", "parlor-title");
      const header = this.panel.appendChild(el("header"));
      header.appendChild(el("h2", "", this.settings.name)).id = "parlor-title";
      this.log = el("div", "log");
      this.log.setAttribute("role", "log");
      this.log.setAttribute("aria-live", "polite");
      this.log.setAttribute("aria-label", "Messages");
      this.log.tabIndex = 0; // scrollable by keyboard
      this.notice = el("div", "notice");
      this.notice.setAttribute("role", "status");
      this.chips = el("div", "pending");
      this.form = el("form");
      this.input = el("textarea");
      this.input.rows = 1;
      this.input.placeholder = "Type a message…";
      this.input.setAttribute("aria-label", "Message");
      this.send = el("button", "send");
      this.send.type = "submit";
      this.send.innerHTML = ICON_SEND; // a constant, never data
      this.send.setAttribute("aria-label", "Send message");
      if (this.settings.enableFileUpload) {
        this.file = el("input");
        this.file.type = "file";
        this.file.accept = "image/png,image/jpeg,image/gif,image/webp";
        this.file.hidden = true;
        this.file.setAttribute("aria-hidden", "true");
        this.file.tabIndex = -1;
        const attach = el("button", "attach");
        attach.type = "button";
        attach.innerHTML = ICON_ATTACH;
        attach.setAttribute("aria-label", "Attach an image");
        attach.addEventListener("click", () => this.file.click());
        this.file.addEventListener("change", () => this.upload());
        this.form.append(attach, this.file);
      }
      this.form.append(this.input, this.send);
      this.panel.append(this.log, this.notice, this.chips, this.form);

      if (PAGE_MODE) {
        root.append(this.panel);
      } else {
        this.panel.hidden = true;
        this.panel.setAttribute("aria-modal", "false");
        const close = el("button", "close", "×");
        close.type = "button";
        close.setAttribute("aria-label", "Close chat");
        close.addEventListener("click", () => this.close());
        header.append(close);
        this.launcher = el("button", "launcher");
        this.launcher.type = "button";
        this.launcher.innerHTML = ICON_CHAT;
        this.launcher.setAttribute("aria-controls", panelId);
        this.launcher.setAttribute("aria-expanded", "false");
        this.launcher.setAttribute("aria-label", "Open chat");
        this.launcher.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
        root.append(this.panel, this.launcher);
        this.panel.addEventListener("keydown", (e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            this.close();
          }
        });
      }

      this.form.addEventListener("submit", (e) => {
        e.preventDefault();
        this.submit();
      });
      this.input.addEventListener("keydown", (e) => {
        // Enter sends; Shift+Enter is a new line; never while an IME is composing.
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.submit();
        }
      });
      this.input.addEventListener("input", () => this.grow());
      this.welcome();
      (document.body || document.documentElement).append(host);
    }

    welcome() {
      if (!this.settings.welcomeMessage || this.log.querySelector(".welcome")) return;
      const node = this.bubble("bot", null);
      node.node.classList.add("welcome");
      markdown(this.settings.welcomeMessage, node.body);
    }

    grow() {
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 140)}px`;
    }

    open() {
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
      this.launcher.setAttribute("aria-label", "Close chat");
      this.launcher.querySelector(".badge")?.remove();
      this.input.focus();
      this.scroll(true);
      this.start();
    }

    close() {
      this.panel.hidden = true;
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.setAttribute("aria-label", "Open chat");
      this.launcher.focus();
    }

    say(text) {
      this.notice.textContent = text || "";
    }

    /** The session (a returning visitor's, or a new one) and the newest conversation. */
    start() {
      this.started ??= this.begin().catch((e) => {
        this.started = null;
        this.say(e instanceof ApiError ? e.message : "The chat is not reachable right now.");
      });
      return this.started;
    }

    async begin() {
      if (token) {
        try {
          await json("GET", "/sessions/current/");
        } catch (e) {
          if (!(e instanceof ApiError) || e.status !== 401) throw e;
          token = null; // gone (deleted contact, reset server): start over
        }
      }
      if (!token) {
        const session = await json("POST", "/sessions/");
        token = session.token;
        saved.write({ token });
      }
      const list = await json("GET", "/conversations/?pageSize=1");
      if (list.results.length) await this.resume(list.results[0].id);
    }

    async resume(conversation) {
      this.conversation = conversation;
      const page = await json("GET", `/conversations/${conversation}/messages/?pageSize=50`);
      this.quiet = true; // history is not news: no unread badge for it
      for (const m of page.results.reverse()) this.upsert(m);
      this.quiet = false;
      const newest = page.results[page.results.length - 1];
      if (newest) {
        const b = this.bubbles.get(newest.id);
        // Resume after the newest message, or inside it when it is a reply still coming.
        this.lastEventId = b && !b.final ? `${newest.id}:${length(b.text)}` : newest.id;
      }
      this.scroll(true);
      this.listen();
    }

    /** Follows the conversation's events until the page goes, reconnecting with Last-Event-ID. */
    async listen() {
      if (this.follow) return;
      const controller = (this.follow = new AbortController());
      while (!controller.signal.aborted) {
        try {
          const headers = this.lastEventId ? { "Last-Event-ID": this.lastEventId } : {};
          const response = await request("GET", `/conversations/${this.conversation}/events/`, {
            headers,
            signal: controller.signal,
          });
          if (!response.ok) {
            const e = await failure(response);
            if (e.status === 404 && this.lastEventId) this.lastEventId = null;
            else if (e.status !== 429 && e.status < 500) return;
          } else {
            for await (const event of events(response)) {
              if (event.id) this.lastEventId = event.id;
              const data = JSON.parse(event.data);
              if (event.event === "message") this.upsert(data);
              else if (event.event === "delta") this.piece(data.messageId, data.offset, data.content);
            }
          }
        } catch (e) {
          if (controller.signal.aborted) return;
        }
        await new Promise((r) => setTimeout(r, RECONNECT_MS));
      }
    }

    bubble(role, id, who) {
      const node = el("div", `msg ${role}`);
      if (id) node.dataset.id = id;
      if (who) node.append(el("div", "who", who));
      const body = node.appendChild(el("div", "body"));
      const media = node.appendChild(el("div", "media"));
      const near = this.nearBottom();
      this.log.append(node);
      this.scroll(near);
      const b = { node, body, media, text: "", final: true, role };
      if (id) this.bubbles.set(id, b);
      return b;
    }

    nearBottom() {
      return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80;
    }

    scroll(force) {
      if (force) this.log.scrollTop = this.log.scrollHeight;
    }

    /** Shows `text` in a bubble: Markdown for bot and agent text, plain for the visitor's. */
    render(b, text) {
      b.text = text;
      const near = this.nearBottom();
      if (b.role === "user") b.body.textContent = text;
      else markdown(text, b.body);
      b.body.classList.toggle("typing", !b.final && !text);
      b.node.setAttribute("aria-busy", String(!b.final));
      this.scroll(near);
    }

    /** A message from the history, the events or a reply's end: added once, by id. */
    upsert(m) {
      const role =
        m.type === "incoming" ? "user" : m.senderType === "bot" ? "bot" : m.senderType === "agent" ? "agent" : "system";
      const inFlight = m.senderType === "bot" && (m.metadata || {}).finishReason == null;
      let b = this.bubbles.get(m.id);
      if (!b && role === "user") {
        // The visitor's own message, sent from this page: confirm its bubble.
        const i = this.pending.findIndex((p) => p.text === m.content);
        if (i >= 0) {
          b = this.pending.splice(i, 1)[0];
          b.node.dataset.id = m.id;
          this.bubbles.set(m.id, b);
        }
      }
      if (!b) {
        b = this.bubble(role, m.id, role === "agent" && m.sender ? m.sender.name : undefined);
        if (role !== "user" && !this.quiet && !PAGE_MODE && this.panel.hidden) this.unread();
      }
      b.final = !inFlight;
      b.node.classList.toggle("streaming", inFlight);
      // A reply in flight may be ahead in this bubble (pieces came first): keep the longer.
      const text = inFlight && length(b.text) > length(m.content || "") ? b.text : m.content || "";
      this.render(b, text);
      this.media(b, m.attachments || []);
    }

    /** A piece of a reply: `start` characters of it came before. Repeats are skipped. */
    piece(id, start, content) {
      let b = this.bubbles.get(id);
      if (!b) {
        b = this.bubble("bot", id);
        b.final = false;
        b.node.classList.add("streaming");
        if (!PAGE_MODE && this.panel.hidden) this.unread();
      }
      if (b.final) return;
      const have = length(b.text);
      if (start > have || start + length(content) <= have) return; // a gap, or already shown
      this.render(b, prefix(b.text, start) + content);
    }

    unread() {
      if (!this.launcher.querySelector(".badge")) {
        this.launcher.append(el("span", "badge"));
        this.launcher.setAttribute("aria-label", "Open chat (new messages)");
      }
    }

    /** Images: uploads are fetched with the token (an <img> cannot send it); http(s) files directly. */
    media(b, attachments) {
      if (b.media.childElementCount || !attachments.length) return;
      for (const a of attachments) {
        const external = /^https?:\/\//i.test(a.file || "") ? safeUrl(a.file) : null;
        if (a.type === "image") {
          const img = b.media.appendChild(el("img"));
          img.alt = a.filename || "image";
          if (external) img.src = external;
          else
            request("GET", `/uploads/${a.id}/`)
              .then((r) => (r.ok ? r.blob() : null))
              .then((blob) => blob && (img.src = URL.createObjectURL(blob)))
              .catch(() => {});
        } else if (external) {
          const p = b.media.appendChild(el("p"));
          link(external, p).textContent = a.filename || external;
        }
      }
    }

    async upload() {
      const file = this.file.files[0];
      this.file.value = "";
      if (!file) return;
      try {
        await this.start();
        const form = new FormData();
        form.append("file", file);
        this.say("Uploading…");
        const attachment = await json("POST", "/uploads/", { form });
        this.say("");
        this.attachments.push(attachment);
        const chip = this.chips.appendChild(el("span", "chip", attachment.filename));
        const remove = chip.appendChild(el("button", "", "×"));
        remove.type = "button";
        remove.setAttribute("aria-label", `Remove ${attachment.filename}`);
        remove.addEventListener("click", () => {
          this.attachments = this.attachments.filter((x) => x !== attachment);
          chip.remove();
          this.input.focus();
        });
      } catch (e) {
        this.say(e instanceof ApiError ? e.message : "The upload failed.");
      }
      this.input.focus();
    }

    async submit() {
      const text = this.input.value.trim();
      const attachments = this.attachments;
      if ((!text && !attachments.length) || this.send.disabled) return;
      this.send.disabled = true;
      this.say("");
      const mine = this.bubble("user", null);
      this.pending.push(mine);
      this.render(mine, text);
      this.input.value = "";
      this.grow();
      this.attachments = [];
      this.chips.replaceChildren();
      try {
        await this.start();
        if (!this.started) throw new ApiError(0, this.notice.textContent || "The chat is not reachable right now.");
        if (!this.conversation) {
          const c = await json("POST", "/conversations/");
          this.conversation = c.id;
          this.listen();
        }
        const response = await request("POST", `/conversations/${this.conversation}/messages/`, {
          body: { content: text, attachments: attachments.map((a) => ({ id: a.id })), isStreaming: true },
        });
        if (!response.ok) throw await failure(response);
        if (!(response.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
          // Auto-reply is off (an agent is answering): only the message is confirmed.
          this.upsert((await response.json()).userMessage);
          return;
        }
        for await (const event of events(response)) {
          const data = JSON.parse(event.data);
          if (data.userMessage) this.upsert(data.userMessage);
          if (data.botMessageId && !this.bubbles.has(data.botMessageId)) {
            const b = this.bubble("bot", data.botMessageId);
            b.final = false;
            b.node.classList.add("streaming");
            this.render(b, "");
          }
          const [id, end] = (event.id || "").split(":");
          if (data.content && id) this.piece(id, Number(end) - length(data.content), data.content);
          if (data.done && data.botMessage) this.upsert(data.botMessage);
          if (data.error) this.say("The answer could not be completed.");
        }
      } catch (e) {
        mine.node.classList.add("failed");
        this.pending = this.pending.filter((p) => p !== mine);
        if (e instanceof ApiError && e.status === 429) {
          this.say(`Too many messages. Try again in ${e.retryAfter || 1} s.`);
        } else {
          this.say(e instanceof ApiError ? e.message : "The message could not be sent.");
        }
        if (!this.input.value) this.input.value = text;
      } finally {
        this.send.disabled = false;
        this.input.focus();
      }
    }
  }

  async function boot() {
    let settings;
    try {
      settings = await json("GET", "/");
    } catch (e) {
      // Not allowed on this site, not active, or not found: stay out of the page.
      console.warn("Parlor widget: this web chat cannot be used here:", e.message);
      if (PAGE_MODE) document.body.append(el("p", "", "This chat is not available."));
      return;
    }
    const widget = new Widget(settings);
    if (PAGE_MODE) {
      widget.start();
      widget.input.focus();
    } else if (token) {
      // A returning visitor: show the conversation (and agents' replies) without a click.
      widget.start();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
