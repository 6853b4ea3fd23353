// deskwatch console: three enhancements over pages that work without them.
// 1. [data-refresh]: reload a live part every data-every seconds (queue table, the caller's figures).
// 2. input[data-suggest]: suggestions as you type, into the input's <datalist>.
// 3. form[data-checks]: run checks and put each result into the page as the PC answers.
// Written for this console (no third-party code, nothing to build); docs/console.md.
"use strict";

const FRAGMENT = { "X-Console-Fragment": "1" };
const PIECE = "<!--/piece-->";

function refreshEvery(el) {
  const seconds = Math.max(2, Number(el.dataset.every || 10));
  const tick = async () => {
    // not while the user is typing or choosing inside it
    if (!document.hidden && !el.contains(document.activeElement)) {
      try {
        const r = await fetch(el.dataset.refresh, { headers: FRAGMENT, credentials: "same-origin" });
        if (r.status === 401) { location.reload(); return; }
        if (r.ok) { el.innerHTML = await r.text(); el.dataset.refreshedAt = String(Date.now()); }
      } catch (e) { /* the next tick tries again */ }
    }
    setTimeout(tick, seconds * 1000);
  };
  setTimeout(tick, seconds * 1000);
}

function suggest(input) {
  const list = document.getElementById(input.getAttribute("list"));
  let timer = 0, asked = "";
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim();
      if (q.length < 2 || q === asked || q.includes(":")) return;
      asked = q;
      try {
        const r = await fetch(input.dataset.suggest + "?q=" + encodeURIComponent(q), { credentials: "same-origin" });
        if (!r.ok || input.value.trim() !== q) return;
        const found = await r.json();
        list.replaceChildren(...found.map((s) => {
          const o = document.createElement("option");
          o.value = s.selector;
          o.label = s.label + " (" + s.matched + ")";
          o.textContent = o.label;
          return o;
        }));
      } catch (e) { /* suggestions are a help, not a must */ }
    }, 120);
  });
  // picking a suggestion (an agent:ID selector) goes straight to that PC
  input.addEventListener("change", () => {
    if (/^agent:[A-Za-z0-9._-]+$/.test(input.value)) input.form.submit();
  });
}

function runChecks(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.querySelector(form.dataset.checks);
    const button = form.querySelector("button");
    button.disabled = true;
    out.replaceChildren();
    const waiting = document.createElement("p");
    waiting.className = "muted";
    waiting.textContent = "Asking the PC…";
    out.append(waiting);
    try {
      const r = await fetch(form.action, {
        method: "POST", body: new URLSearchParams(new FormData(form)), headers: FRAGMENT, credentials: "same-origin",
      });
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (value) buffer += decoder.decode(value, { stream: true });
        // each result ends with the marker <!--/piece-->; show every complete one at once
        let end;
        while ((end = buffer.indexOf(PIECE)) >= 0) {
          const close = end + PIECE.length;
          const piece = buffer.slice(0, close);
          buffer = buffer.slice(close);
          waiting.remove();
          out.insertAdjacentHTML("beforeend", piece);
        }
        if (done) break;
      }
      if (buffer.trim()) out.insertAdjacentHTML("beforeend", buffer);
    } catch (e) {
      waiting.textContent = "The checks could not be run: " + e;
    } finally {
      button.disabled = false;
    }
  });
}

document.querySelectorAll("[data-refresh]").forEach(refreshEvery);
document.querySelectorAll("input[data-suggest]").forEach(suggest);
document.querySelectorAll("form[data-checks]").forEach(runChecks);
