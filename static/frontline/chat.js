// The customer's chat page. Speaks the live chat protocol of DESIGN section 5 over /ws/chat/.
// All message text goes through textContent: what a customer or the AI wrote is never HTML.
(function () {
  "use strict";

  var KEY_SESSION = "frontline.chat.session";
  var KEY_EMAIL = "frontline.chat.email";
  var KEY_NAME = "frontline.chat.name";
  var TYPING_TIMEOUT_MS = 30000;
  var MAX_BACKOFF_MS = 10000;

  var root = document.getElementById("chat");
  var transcript = document.getElementById("transcript");
  var typing = document.getElementById("typing");
  var statusEl = document.getElementById("status");
  var ticketEl = document.getElementById("ticket");
  var composer = document.getElementById("composer");
  var input = document.getElementById("text");
  var identityForm = document.getElementById("identity-form");
  var emailInput = document.getElementById("email");
  var nameInput = document.getElementById("name");
  var assistant = root.dataset.assistant || "Assistant";

  var socket = null;
  var ready = false; // the server answered our hello
  var outbox = []; // frames typed while disconnected, sent after the next hello
  var backoff = 500;
  var typingTimer = null;

  emailInput.value = localStorage.getItem(KEY_EMAIL) || "";
  nameInput.value = localStorage.getItem(KEY_NAME) || "";

  function setStatus(text, cls) {
    statusEl.textContent = text;
    statusEl.className = "status " + cls;
  }

  function hello() {
    var frame = { type: "hello" };
    var session = localStorage.getItem(KEY_SESSION);
    if (session) frame.session = session;
    if (emailInput.value.trim()) frame.email = emailInput.value.trim();
    if (nameInput.value.trim()) frame.name = nameInput.value.trim();
    socket.send(JSON.stringify(frame));
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.socketPath);
    socket.onopen = function () {
      backoff = 500;
      setStatus("Connected", "status-on");
      hello();
    };
    socket.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      handle(frame);
    };
    socket.onclose = function () {
      ready = false;
      setStatus("Reconnecting…", "status-off");
      // Jitter keeps a restarted server from being hit by every page at the same instant.
      var delay = backoff + Math.random() * backoff * 0.3;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      setTimeout(connect, delay);
    };
  }

  function handle(frame) {
    switch (frame.type) {
      case "session":
        localStorage.setItem(KEY_SESSION, frame.session);
        // The server replays the whole conversation after this frame.
        transcript.replaceChildren();
        showTicket(frame.ticket);
        ready = true;
        flush();
        break;
      case "typing":
        showTyping(true);
        break;
      case "message":
        if (frame.author !== "customer") showTyping(false);
        if (frame.author === "customer") closeConfirms();
        showTicket(frame.ticket);
        addMessage(frame.author, frame.text);
        break;
      case "confirm":
        addConfirm();
        break;
      case "error":
        addNotice(frame.error);
        break;
    }
  }

  function send(frame) {
    if (ready && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
    } else {
      outbox.push(frame);
    }
  }

  function flush() {
    while (outbox.length && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(outbox.shift()));
    }
  }

  function showTicket(number) {
    ticketEl.textContent = number ? "Ticket " + number : "";
    var locked = Boolean(number);
    emailInput.disabled = locked;
    nameInput.disabled = locked;
    identityForm.querySelector("button").disabled = locked;
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
  }

  function label(author) {
    return { customer: "You", ai: assistant, agent: "Support team", system: "Support" }[author] || author;
  }

  function addMessage(author, text) {
    var item = document.createElement("li");
    item.className = "msg msg-" + author;
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = label(author);
    var body = document.createElement("div");
    body.className = "body";
    body.textContent = text;
    item.append(who, body);
    transcript.append(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  function addNotice(text) {
    var item = document.createElement("li");
    item.className = "msg msg-error";
    item.textContent = text;
    transcript.append(item);
  }

  // A confirm frame follows the message frame with the same text: give that bubble buttons.
  function addConfirm() {
    closeConfirms();
    var bubble = transcript.lastElementChild;
    if (!bubble || !bubble.classList.contains("msg-ai")) return;
    var bar = document.createElement("div");
    bar.className = "confirm";
    [["yes", "Yes, go ahead"], ["no", "No"]].forEach(function (pair) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = pair[1];
      button.className = pair[0] === "yes" ? "primary" : "";
      button.addEventListener("click", function () {
        closeConfirms();
        addMessage("customer", pair[0] === "yes" ? "Yes" : "No");
        send({ type: "confirm", answer: pair[0] });
      });
      bar.append(button);
    });
    bubble.append(bar);
  }

  function closeConfirms() {
    transcript.querySelectorAll(".confirm button").forEach(function (b) { b.disabled = true; });
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    closeConfirms();
    addMessage("customer", text);
    send({ type: "message", text: text });
    input.value = "";
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  identityForm.addEventListener("submit", function (event) {
    event.preventDefault();
    localStorage.setItem(KEY_EMAIL, emailInput.value.trim());
    localStorage.setItem(KEY_NAME, nameInput.value.trim());
    document.getElementById("identity").open = false;
    if (ready) hello();
  });

  document.getElementById("restart").addEventListener("click", function () {
    localStorage.removeItem(KEY_SESSION);
    outbox = [];
    transcript.replaceChildren();
    showTicket(null);
    if (socket) socket.close(); // onclose reconnects without the old session
  });

  connect();
})();
