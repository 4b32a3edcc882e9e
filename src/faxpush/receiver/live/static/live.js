// faxpush listen --ui: fetches the pushes that arrived since the page was drawn, once a
// second, and puts them on top of the list. The server renders (and escapes) each push.
"use strict";
(function () {
  const list = document.getElementById("pushes");
  const state = document.getElementById("live-state");
  const empty = document.getElementById("empty");
  if (!list || !window.fetch) return;
  let last = Number(list.dataset.last);
  const keep = Number(list.dataset.keep);
  const template = document.createElement("template");

  async function poll() {
    try {
      const answer = await fetch(list.dataset.feed + "?after=" + last, {cache: "no-store"});
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      const news = await answer.json();
      for (const fragment of news.pushes) {
        template.innerHTML = fragment;
        list.prepend(template.content);
      }
      last = news.last;
      while (list.children.length > keep) list.lastElementChild.remove();
      if (empty) empty.hidden = list.children.length > 0;
      state.textContent = "Live: new pushes appear on their own.";
    } catch (error) {
      state.textContent = "Not live (" + error.message + "); retrying.";
    }
    window.setTimeout(poll, 1000);
  }
  poll();
})();
