// farmgate demo page: phone-sized chats side by side, driven through the emulator's user
// side (bot/demo/page.py forwards /api/... to it). Everything is drawn with textContent:
// nothing the bot or a user typed is ever read as HTML.
"use strict";

const state = {
  lang: localStorage.getItem("farmgate-demo-lang") || "zh",
  labels: {},
  host: "",
  languages: [],
  chats: new Map(), // user id -> summary
  columns: new Map(), // user id -> Column
};

// ------------------------------------------------------------------ helpers

function label(key, vars) {
  let text = state.labels[key] ?? key;
  for (const [name, value] of Object.entries(vars || {})) {
    text = text.replaceAll(`{${name}}`, value);
  }
  return text;
}

function applyLabels(root) {
  const vars = { host: state.host };
  root.querySelectorAll("[data-label]").forEach((node) => {
    node.textContent = label(node.dataset.label, vars);
  });
  root.querySelectorAll("[data-label-placeholder]").forEach((node) => {
    node.placeholder = label(node.dataset.labelPlaceholder, vars);
  });
  root.querySelectorAll("[data-label-title]").forEach((node) => {
    node.title = label(node.dataset.labelTitle, vars);
    node.setAttribute("aria-label", node.title);
  });
}

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

class Refused extends Error {}

async function api(path, options) {
  const response = await fetch(`api/${path}`, options);
  let body = {};
  try {
    body = await response.json();
  } catch (e) {
    body = {};
  }
  if (response.status === 502) throw new Refused(label("offline"));
  if (!response.ok) throw new Refused(body.error || response.statusText);
  return body;
}

function post(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function safeUrl(url) {
  return /^https?:\/\//i.test(url || "") ? url : null;
}

// ------------------------------------------------------------------ one chat

class Column {
  constructor(summary) {
    this.id = summary.id;
    this.nodes = new Map(); // message id -> element
    this.versions = new Map(); // message id -> edits count shown
    const template = document.getElementById("chat-template");
    this.root = template.content.firstElementChild.cloneNode(true);
    this.root.dataset.chat = String(this.id);
    this.list = this.root.querySelector(".messages");
    // Whether the reader is at the end of the chat: a picture that loads later keeps them there.
    this.pinned = true;
    this.list.addEventListener("scroll", () => {
      this.pinned = this.nearBottom();
    });
    this.keyboard = this.root.querySelector(".reply-keyboard");
    this.toastNode = this.root.querySelector(".toast");
    this.startButton = this.root.querySelector(".start");
    this.describe(summary);
    applyLabels(this.root);
    this.wire();
  }

  describe(summary) {
    this.root.querySelector(".name").textContent = summary.first_name;
    const meta = [`#${summary.id}`];
    if (summary.language_code) meta.push(summary.language_code);
    this.root.querySelector(".meta").textContent = meta.join(" · ");
  }

  wire() {
    const root = this.root;
    root.querySelector(".close").addEventListener("click", () => closeChat(this.id));
    this.startButton.addEventListener("click", () => this.act({ text: "/start" }));
    root.querySelector(".composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = event.target.elements.text;
      const text = input.value;
      if (!text.trim()) return;
      this.act({ text }).then((ok) => {
        if (ok) input.value = "";
      });
    });
    root.querySelector(".own-contact").addEventListener("click", () =>
      this.act({ contact: { own: true } }).then((ok) => ok && this.closeAttach()),
    );
    root.querySelector(".other-contact").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target.elements;
      this.act({
        contact: { own: false, phone: form.phone.value, first_name: form.first_name.value },
      }).then((ok) => ok && this.closeAttach());
    });
    root.querySelector(".location").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = event.target.elements;
      this.act({
        location: { latitude: Number(form.latitude.value), longitude: Number(form.longitude.value) },
      }).then((ok) => ok && this.closeAttach());
    });
    const photo = root.querySelector(".photo");
    const fileName = photo.querySelector(".file-name");
    photo.elements.file.addEventListener("change", (event) => {
      fileName.textContent = event.target.files.length ? event.target.files[0].name : "";
    });
    photo.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target.elements;
      const file = form.file.files[0];
      const data = file ? await readBase64(file) : null;
      const ok = await this.act({ photo: { caption: form.caption.value, data } });
      if (ok) {
        photo.reset();
        fileName.textContent = "";
        this.closeAttach();
      }
    });
    root.querySelector(".sample-photo").addEventListener("click", () =>
      this.act({ photo: { caption: photo.elements.caption.value } }).then(
        (ok) => ok && this.closeAttach(),
      ),
    );
  }

  closeAttach() {
    this.root.querySelector(".attach").open = false;
  }

  async act(body) {
    try {
      await post(`chats/${this.id}/actions`, body);
      return true;
    } catch (error) {
      this.toast(label("failed", { error: error.message }), true);
      return false;
    }
  }

  async load() {
    const chat = await api(`chats/${this.id}`);
    this.describe(chat);
    const shown = new Set(chat.messages.map((m) => m.id));
    const newest = chat.messages.length ? chat.messages[chat.messages.length - 1].id : 0;
    for (const id of [...this.nodes.keys()]) {
      if (!shown.has(id) && id <= newest) this.remove(id);
    }
    for (const message of chat.messages) this.upsert(message);
    this.setKeyboard(chat.keyboard);
    this.refreshStart();
    this.list.scrollTop = this.list.scrollHeight;
  }

  upsert(message) {
    if (message.deleted) {
      this.remove(message.id);
      return;
    }
    const edits = message.edits || 0;
    if ((this.versions.get(message.id) ?? -1) > edits) return; // an older snapshot
    const node = renderMessage(this, message);
    const existing = this.nodes.get(message.id);
    this.nodes.set(message.id, node);
    this.versions.set(message.id, edits);
    if (existing) {
      existing.replaceWith(node);
    } else {
      const later = [...this.nodes.entries()]
        .filter(([id]) => id > message.id)
        .map(([, n]) => n)
        .find((n) => n.isConnected);
      if (later) this.list.insertBefore(node, later);
      else {
        this.list.appendChild(node);
        this.list.scrollTop = this.list.scrollHeight;
      }
    }
    this.refreshStart();
  }

  remove(id) {
    const node = this.nodes.get(id);
    if (node) node.remove();
    this.nodes.delete(id);
    this.refreshStart();
  }

  refreshStart() {
    this.startButton.hidden = this.nodes.size > 0;
  }

  nearBottom() {
    const list = this.list;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  setKeyboard(rows) {
    const stick = this.nearBottom(); // a keyboard that appears must not hide the last message
    this.keyboard.replaceChildren();
    for (const row of rows || []) {
      const line = make("div", "row");
      for (const button of row) {
        const node = make("button", "reply-button", button.text);
        node.type = "button";
        node.addEventListener("click", () => this.act({ reply: button.text }));
        line.appendChild(node);
      }
      this.keyboard.appendChild(line);
    }
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  toast(text, alert) {
    const node = this.toastNode;
    node.textContent = text;
    node.classList.toggle("alert", Boolean(alert));
    node.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      node.hidden = true;
    }, 4000);
  }
}

function renderMessage(column, message) {
  const node = make("div", `message from-${message.from}`);
  node.dataset.mid = String(message.id);
  const file = message.file;
  if (message.media === "photo" && file) {
    const link = make("a", "photo");
    link.href = `api/files/${encodeURIComponent(file.file_id)}`;
    link.target = "_blank";
    link.rel = "noopener";
    const image = make("img");
    // A picture takes its height when it has loaded: a reader at the end stays at the end.
    image.addEventListener("load", () => {
      if (column.pinned) column.list.scrollTop = column.list.scrollHeight;
    });
    image.src = link.href;
    image.alt = label("photo");
    link.appendChild(image);
    node.appendChild(link);
  } else if (message.media === "document" && file) {
    const link = make("a", "document", `📄 ${file.file_name || label("download")}`);
    link.href = `api/files/${encodeURIComponent(file.file_id)}`;
    link.download = file.file_name || "";
    link.title = label("download");
    node.appendChild(link);
  } else if (message.media === "contact") {
    const c = message.contact;
    node.appendChild(make("div", "contact", `👤 ${c.first_name || ""} ${c.phone_number || ""}`));
  } else if (message.media === "location") {
    const l = message.location;
    node.appendChild(make("div", "location", `📍 ${l.latitude}, ${l.longitude}`));
  }
  if (message.parts.length) {
    const text = make("div", "text");
    for (const part of message.parts) {
      const href = safeUrl(part.url || (part.type === "url" ? part.text : null));
      const span = make(href ? "a" : "span", part.type ? `e-${part.type}` : "", part.text);
      if (href) {
        span.href = href;
        span.target = "_blank";
        span.rel = "noopener";
      }
      text.appendChild(span);
    }
    node.appendChild(text);
  }
  if (message.inline_keyboard.length) {
    const keyboard = make("div", "inline-keyboard");
    for (const row of message.inline_keyboard) {
      const line = make("div", "row");
      for (const button of row) {
        const url = safeUrl(button.url);
        let control;
        if (url) {
          control = make("a", "inline-button", button.text);
          control.href = url;
          control.target = "_blank";
          control.rel = "noopener";
        } else {
          control = make("button", "inline-button", button.text);
          control.type = "button";
          control.disabled = button.callback_data === null;
          control.addEventListener("click", () =>
            column.act({
              inline: { message_id: message.id, callback_data: button.callback_data },
            }),
          );
        }
        line.appendChild(control);
      }
      keyboard.appendChild(line);
    }
    node.appendChild(keyboard);
  }
  const meta = make("div", "when");
  if (message.edited) {
    const edited = make("span", "edited");
    edited.dataset.label = "edited";
    edited.textContent = label("edited");
    meta.appendChild(edited);
    meta.appendChild(document.createTextNode(" "));
  }
  const time = new Date(message.date * 1000);
  meta.appendChild(document.createTextNode(time.toTimeString().slice(0, 5)));
  node.appendChild(meta);
  return node;
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// ------------------------------------------------------------------ the page

function openIds() {
  try {
    return JSON.parse(localStorage.getItem("farmgate-demo-open") || "[]");
  } catch (e) {
    return [];
  }
}

function saveOpen() {
  localStorage.setItem("farmgate-demo-open", JSON.stringify([...state.columns.keys()]));
}

async function openChat(summary) {
  if (state.columns.has(summary.id)) {
    state.columns.get(summary.id).root.scrollIntoView({ behavior: "smooth" });
    return;
  }
  const column = new Column(summary);
  state.columns.set(summary.id, column);
  document.getElementById("chats").appendChild(column.root);
  document.getElementById("no-chats").hidden = true;
  saveOpen();
  try {
    await column.load();
  } catch (error) {
    column.toast(label("failed", { error: error.message }), true);
  }
}

function closeChat(id) {
  const column = state.columns.get(id);
  if (!column) return;
  column.root.remove();
  state.columns.delete(id);
  document.getElementById("no-chats").hidden = state.columns.size > 0;
  saveOpen();
}

function renderPicker() {
  const picker = document.getElementById("user-picker");
  const chosen = picker.value;
  const first = picker.options[0];
  picker.replaceChildren(first);
  const chats = [...state.chats.values()].sort((a, b) => a.id - b.id);
  for (const chat of chats) {
    const option = make("option", "", `${chat.first_name} (#${chat.id})`);
    option.value = String(chat.id);
    picker.appendChild(option);
  }
  picker.value = chosen;
}

async function refreshChats() {
  const body = await api("chats");
  state.chats = new Map(body.chats.map((c) => [c.id, c]));
  renderPicker();
}

function renderLanguages() {
  for (const id of ["page-language", "new-language"]) {
    const select = document.getElementById(id);
    const chosen = select.value || state.lang;
    select.replaceChildren();
    for (const language of state.languages) {
      const option = make("option", "", language.name);
      option.value = language.code;
      select.appendChild(option);
    }
    select.value = chosen;
  }
  document.getElementById("page-language").value = state.lang;
}

async function setLanguage(lang) {
  const page = await api(`page?lang=${encodeURIComponent(lang)}`);
  state.lang = page.lang;
  state.labels = page.labels;
  state.host = page.host;
  state.languages = page.languages;
  localStorage.setItem("farmgate-demo-lang", state.lang);
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : state.lang;
  document.title = label("title");
  renderLanguages();
  applyLabels(document);
}

function handle(event) {
  if (event.type === "ready") {
    document.getElementById("status").hidden = true;
    refreshChats().catch(() => {});
    for (const column of state.columns.values()) column.load().catch(() => {});
    return;
  }
  if (event.type === "chat") {
    state.chats.set(event.chat.id, event.chat);
    renderPicker();
    return;
  }
  const column = state.columns.get(event.chat);
  if (!column) return;
  column.setKeyboard(event.keyboard);
  if (event.type === "message") column.upsert(event.message);
  else if (event.type === "delete") column.remove(event.message_id);
  else if (event.type === "answer") column.toast(event.text, event.show_alert);
}

function listen() {
  const source = new EventSource("api/events");
  source.onmessage = (message) => handle(JSON.parse(message.data));
  source.onerror = () => {
    document.getElementById("status").hidden = false;
  };
}

async function main() {
  await setLanguage(state.lang);
  document.getElementById("page-language").addEventListener("change", (event) => {
    setLanguage(event.target.value);
  });
  document.getElementById("open-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const chat = state.chats.get(Number(event.target.elements.user.value));
    if (chat) openChat(chat);
  });
  document.getElementById("new-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target.elements;
    try {
      const chat = await post("chats", {
        id: Number(form.id.value),
        first_name: form.first_name.value,
        language_code: form.language_code.value,
      });
      state.chats.set(chat.id, chat);
      renderPicker();
      event.target.reset();
      form.language_code.value = state.lang;
      await openChat(chat);
    } catch (error) {
      alert(label("failed", { error: error.message }));
    }
  });
  await refreshChats();
  for (const id of openIds()) {
    const chat = state.chats.get(id);
    if (chat) await openChat(chat);
  }
  listen();
}

main();
