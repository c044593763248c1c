// Frontline chat widget: paste one tag on any page and get a chat button and panel.
//
//   <script src="https://HOST/static/frontline/widget.js" data-frontline-host="HOST" async></script>
//
// Optional: data-customer-email, data-customer-name and data-customer-signature (hex
// HMAC-SHA256 of the email with the server's CHAT_IDENTITY_SECRET, computed by the host site's
// server), data-title. It speaks the live chat protocol of DESIGN section 5 over /ws/chat/.
//
// No build step, no framework. Everything lives in a Shadow DOM, so the host page's CSS cannot
// restyle it and ours cannot leak out. What a customer, the AI or an agent wrote is only ever set
// with textContent: never HTML.
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector("script[data-frontline-host]");
  if (!script || window.__frontlineWidget) return; // pasted twice: one widget
  window.__frontlineWidget = true;

  var data = script.dataset;
  var scriptUrl = new URL(script.src, location.href);
  var hostAttr = (data.frontlineHost || scriptUrl.host).replace(/\/+$/, "");
  var base = hostAttr.indexOf("://") > 0 ? new URL(hostAttr) : new URL(scriptUrl.protocol + "//" + hostAttr);
  var socketUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/ws/chat/";
  var identity = {
    email: (data.customerEmail || "").trim().toLowerCase(),
    name: (data.customerName || "").trim(),
    signature: (data.customerSignature || "").trim(),
  };
  var title = data.title || "Support";
  var storeKey = "frontline.widget." + base.host; // one conversation per support host
  var openKey = storeKey + ".open";

  var TYPING_SEND_EVERY_MS = 3000; // the customer's typing frames, throttled
  var TYPING_SHOW_MS = 20000; // hide the AI typing indicator if no reply comes
  var MIN_BACKOFF_MS = 500;
  var MAX_BACKOFF_MS = 15000;

  var CSS = [
    ":host { all: initial; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    ".fl { font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1f2328; }",
    ".fl-launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;",
    "  border-radius: 50%; border: 0; background: #1f5eff; color: #fff; cursor: pointer;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; }",
    ".fl-launcher:focus-visible, .fl button:focus-visible, .fl textarea:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }",
    ".fl-launcher svg { width: 26px; height: 26px; fill: currentColor; }",
    ".fl-badge { position: absolute; top: 4px; right: 4px; width: 12px; height: 12px; border-radius: 50%; background: #e5484d; border: 2px solid #fff; }",
    ".fl-panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: 370px; height: min(560px, calc(100vh - 110px));",
    "  background: #fff; border-radius: 14px; box-shadow: 0 10px 40px rgba(0,0,0,.25); display: flex; flex-direction: column; overflow: hidden; }",
    ".fl-panel[hidden], .fl [hidden] { display: none !important; }",
    ".fl-head { background: #1f5eff; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }",
    ".fl-head h2 { font-size: 16px; margin: 0; flex: 1; font-weight: 600; }",
    ".fl-status { font-size: 12px; opacity: .9; }",
    ".fl-close { background: transparent; border: 0; color: #fff; font-size: 22px; line-height: 1; cursor: pointer; padding: 4px 8px; border-radius: 6px; }",
    ".fl-body { flex: 1; overflow-y: auto; padding: 12px; background: #f6f8fa; }",
    ".fl-log, .fl-pending { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }",
    ".fl-pending { margin-top: 8px; }",
    ".fl-msg { max-width: 85%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word; }",
    ".fl-msg .fl-who { display: block; font-size: 11px; opacity: .7; margin-bottom: 2px; }",
    ".fl-customer { align-self: flex-end; background: #1f5eff; color: #fff; }",
    ".fl-ai, .fl-agent, .fl-system { align-self: flex-start; background: #fff; border: 1px solid #d8dee4; }",
    ".fl-sending { opacity: .6; }",
    ".fl-notice { align-self: center; font-size: 13px; color: #9a2a2a; background: #fff0f0; border-radius: 8px; padding: 6px 10px; }",
    ".fl-confirm { display: flex; gap: 8px; margin-top: 8px; }",
    ".fl-confirm button { border: 1px solid #1f5eff; border-radius: 8px; padding: 5px 14px; cursor: pointer; font: inherit; background: #fff; color: #1f5eff; }",
    ".fl-confirm button.fl-yes { background: #1f5eff; color: #fff; }",
    ".fl-typing { font-size: 13px; color: #57606a; padding: 4px 14px; margin: 0; background: #f6f8fa; }",
    ".fl-composer { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #d8dee4; background: #fff; }",
    ".fl-composer textarea { flex: 1; resize: none; font: inherit; padding: 8px; border: 1px solid #d0d7de; border-radius: 8px; min-height: 40px; max-height: 120px; }",
    ".fl-send { border: 0; border-radius: 8px; background: #1f5eff; color: #fff; padding: 0 14px; font: inherit; cursor: pointer; }",
    ".fl-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    "@media (max-width: 480px) {",
    "  .fl-panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }",
    "  .fl-open .fl-launcher { display: none; }", // it would cover the Send button
    "}",
  ].join("\n");

  // --- The DOM, built once -------------------------------------------------------------------
  var hostEl = document.createElement("div");
  hostEl.id = "frontline-widget";
  var shadow = hostEl.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = CSS;
  var root = el("div", "fl");
  shadow.append(style, root);

  var launcher = el("button", "fl-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", "Open " + title + " chat");
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "fl-panel");
  launcher.innerHTML = // our own static markup, no data in it
    '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  var badge = el("span", "fl-badge");
  badge.hidden = true;
  launcher.append(badge);

  var panel = el("div", "fl-panel");
  panel.id = "fl-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "false");
  panel.setAttribute("aria-labelledby", "fl-title");

  var head = el("div", "fl-head");
  var heading = el("h2", "", title);
  heading.id = "fl-title";
  var statusEl = el("span", "fl-status", "Connecting…");
  var closeBtn = el("button", "fl-close", "×");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", "Close chat");
  head.append(heading, statusEl, closeBtn);

  var body = el("div", "fl-body");
  var log = el("ol", "fl-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-label", "Conversation");
  var pendingList = el("ol", "fl-pending"); // typed but not yet accepted by the server
  pendingList.setAttribute("aria-label", "Messages being sent");
  body.append(log, pendingList);

  var typingEl = el("p", "fl-typing", "Assistant is typing…");
  typingEl.hidden = true;
  typingEl.setAttribute("aria-live", "polite");

  var composer = el("form", "fl-composer");
  var input = el("textarea");
  input.rows = 1;
  input.placeholder = "Type your message…";
  input.setAttribute("aria-label", "Message");
  var sendBtn = el("button", "fl-send", "Send");
  sendBtn.type = "submit";
  composer.append(input, sendBtn);

  panel.append(head, body, typingEl, composer);
  root.append(panel, launcher);

  // --- State ---------------------------------------------------------------------------------
  var socket = null;
  var ready = false; // the server answered our hello with a session frame
  var outbox = []; // {frame, item} typed while offline: sent after the next hello
  var inflight = []; // {frame, item} sent, waiting for the server's ack (typing) or error
  var backoff = MIN_BACKOFF_MS;
  var typingTimer = null;
  var lastTypingSent = 0;
  var helloWithIdentity = true;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function stored() {
    try {
      return JSON.parse(localStorage.getItem(storeKey)) || {};
    } catch (e) {
      return {};
    }
  }

  function store(value) {
    try {
      localStorage.setItem(storeKey, JSON.stringify(value));
    } catch (e) {
      /* private mode: the conversation just won't survive a reload */
    }
  }

  // --- Opening and closing -------------------------------------------------------------------
  function showPanel(open) {
    panel.hidden = !open;
    root.classList.toggle("fl-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", (open ? "Close " : "Open ") + title + " chat");
    try {
      // Per tab: a reload keeps the panel as it was.
      if (open) sessionStorage.setItem(openKey, "1");
      else sessionStorage.removeItem(openKey);
    } catch (e) {
      /* storage blocked: the panel starts closed after a reload */
    }
  }

  function openPanel() {
    showPanel(true);
    badge.hidden = true;
    scrollDown();
    input.focus();
  }

  function closePanel() {
    showPanel(false);
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) openPanel();
    else closePanel();
  });
  closeBtn.addEventListener("click", closePanel);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      closePanel();
    }
  });

  // --- The socket ----------------------------------------------------------------------------
  function connect() {
    setStatus("Connecting…");
    try {
      socket = new WebSocket(socketUrl);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket.onopen = function () {
      backoff = MIN_BACKOFF_MS;
      hello();
    };
    socket.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame === "object") handle(frame);
    };
    socket.onclose = function () {
      ready = false;
      // A frame in flight may not have reached the server: send it again rather than lose it.
      outbox = inflight.concat(outbox);
      inflight = [];
      showTyping(false);
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    setStatus("Offline — reconnecting…");
    // Jitter keeps a restarted server from being hit by every open page at the same instant.
    var delay = backoff + Math.random() * backoff * 0.3;
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    setTimeout(connect, delay);
  }

  function hello() {
    var frame = { type: "hello" };
    var saved = stored();
    // A different signed-in person on this browser gets their own conversation.
    if (saved.session && (saved.email || "") === identity.email) frame.session = saved.session;
    if (helloWithIdentity) {
      if (identity.email) frame.email = identity.email;
      if (identity.name) frame.name = identity.name;
      if (identity.signature) frame.signature = identity.signature;
    }
    socket.send(JSON.stringify(frame));
  }

  function handle(frame) {
    switch (frame.type) {
      case "session":
        store({ session: frame.session, email: identity.email });
        // The server replays the whole conversation after this frame.
        log.replaceChildren();
        ready = true;
        setStatus("Online");
        flush();
        break;
      case "typing":
        if (frame.author === "ai" || frame.author === "agent") {
          accepted();
          showTyping(true);
        }
        break;
      case "message":
        if (frame.author === "customer") closeConfirms();
        else showTyping(false);
        addMessage(frame.author, frame.text);
        if (frame.author !== "customer" && panel.hidden) badge.hidden = false;
        break;
      case "confirm":
        addConfirm();
        break;
      case "error":
        if (!ready) {
          // The hello itself was refused (say, a malformed email from the page): go anonymous.
          helloWithIdentity = false;
          hello();
        } else {
          refused();
        }
        addNotice(String(frame.error || "Something went wrong."));
        break;
    }
  }

  // --- Sending -------------------------------------------------------------------------------
  function send(frame, shownText) {
    var item = messageItem("customer", shownText);
    item.classList.add("fl-sending");
    pendingList.append(item);
    scrollDown();
    var entry = { frame: frame, item: item };
    if (ready && socket && socket.readyState === WebSocket.OPEN) transmit(entry);
    else outbox.push(entry);
  }

  function transmit(entry) {
    socket.send(JSON.stringify(entry.frame));
    inflight.push(entry);
  }

  function flush() {
    while (outbox.length && socket.readyState === WebSocket.OPEN) transmit(outbox.shift());
  }

  // The server answers every message frame, in order, with a typing frame (stored) or an error.
  function accepted() {
    var entry = inflight.shift();
    if (!entry) return;
    entry.item.classList.remove("fl-sending");
    log.append(entry.item);
    if (entry.frame.type === "message" || entry.frame.type === "confirm") closeConfirms();
  }

  function refused() {
    var entry = inflight.shift();
    if (!entry) return;
    entry.item.remove();
    // Hand the text back, so nothing the customer wrote is lost.
    if (entry.frame.type === "message") {
      input.value = entry.frame.text + (input.value ? "\n" + input.value : "");
      input.focus();
    }
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    send({ type: "message", text: text }, text);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  input.addEventListener("input", function () {
    var now = Date.now();
    if (!ready || !input.value || now - lastTypingSent < TYPING_SEND_EVERY_MS) return;
    lastTypingSent = now;
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "typing" }));
  });

  // --- Rendering -----------------------------------------------------------------------------
  function label(author) {
    return { customer: "You", ai: "Assistant", agent: "Support team", system: title }[author] || "Support";
  }

  function messageItem(author, text) {
    var item = el("li", "fl-msg fl-" + (["customer", "ai", "agent", "system"].indexOf(author) >= 0 ? author : "system"));
    var who = el("span", "fl-who", label(author));
    var content = el("span", "fl-text", String(text)); // textContent: never HTML
    item.append(who, content);
    return item;
  }

  function addMessage(author, text) {
    log.append(messageItem(author, text));
    scrollDown();
  }

  function addNotice(text) {
    var item = el("li", "fl-notice", text);
    item.setAttribute("role", "alert");
    log.append(item);
    scrollDown();
  }

  function addConfirm() {
    closeConfirms();
    var target = log.lastElementChild;
    if (!target) return;
    var group = el("div", "fl-confirm");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Answer the question");
    [["yes", "Yes"], ["no", "No"]].forEach(function (choice) {
      var button = el("button", "fl-" + choice[0], choice[1]);
      button.type = "button";
      button.addEventListener("click", function () {
        closeConfirms();
        send({ type: "confirm", answer: choice[0] }, choice[1]);
        input.focus();
      });
      group.append(button);
    });
    target.append(group);
    scrollDown();
  }

  function closeConfirms() {
    log.querySelectorAll(".fl-confirm").forEach(function (group) {
      group.remove();
    });
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    typingEl.hidden = !on;
    if (on) typingTimer = setTimeout(function () { typingEl.hidden = true; }, TYPING_SHOW_MS);
  }

  function setStatus(text) {
    statusEl.textContent = text;
  }

  function scrollDown() {
    body.scrollTop = body.scrollHeight;
  }

  function start() {
    document.body.append(hostEl);
    connect();
    var wasOpen = false;
    try {
      wasOpen = Boolean(sessionStorage.getItem(openKey));
    } catch (e) {
      /* storage blocked */
    }
    if (wasOpen) showPanel(true);
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
