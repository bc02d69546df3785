"use strict";
// Filters, search, sorting and the takes-side-by-side grouping of the mjv report.
(function () {
  const main = document.getElementById("cards");
  const cards = Array.from(main.querySelectorAll("article.card"));
  const filters = Array.from(document.querySelectorAll("select[data-filter]"));
  const search = document.getElementById("search");
  const sort = document.getElementById("sort");
  const group = document.getElementById("group");
  const shown = document.getElementById("shown");
  const verdict = document.getElementById("verdict");
  const stars = document.getElementById("stars");
  const checks = document.getElementById("checks");
  const STATUS_ORDER = { failed: 0, incomplete: 1, pending: 2, done: 3 };

  function matches(card, terms) {
    for (const select of filters) {
      if (select.value && card.dataset[select.dataset.filter] !== select.value.slice(1)) {
        return false;
      }
    }
    if (checks && checks.value && card.dataset.qc !== checks.value) return false;
    const text = card.dataset.search;
    return terms.every((term) => text.includes(term)) && clipsMatch(card);
  }

  // The verdict and stars filters act on clips: a card shows when one of its clips does.
  function clipsMatch(card) {
    const wanted = verdict.value;
    const least = Number(stars.value || 0);
    let any = !wanted && !least;
    for (const clip of card.querySelectorAll("figure.clip")) {
      clip.hidden = (wanted && clip.dataset.verdictNow !== wanted) ||
        Number(clip.dataset.stars) < least;
      if (!clip.hidden) any = true;
    }
    return any;
  }

  function byName(a, b) {
    return a.dataset.name < b.dataset.name ? -1 : a.dataset.name > b.dataset.name ? 1 : 0;
  }

  function cost(card) {
    return card.dataset.cost === "" ? Infinity : Number(card.dataset.cost);
  }

  const ORDERS = {
    name: byName,
    status: (a, b) =>
      (STATUS_ORDER[a.dataset.status] ?? 9) - (STATUS_ORDER[b.dataset.status] ?? 9) || byName(a, b),
    cost: (a, b) => cost(a) - cost(b) || byName(a, b),
  };

  function byScore(name) {
    const score = (card) => (card.dataset["q" + name] ?? "") === "" ? Infinity : Number(card.dataset["q" + name]);
    return (a, b) => score(a) - score(b) || byName(a, b);
  }

  function sorted() {
    const wanted = sort.value.startsWith("score:") ? byScore(sort.value.slice(6)) : null;
    const order = wanted || ORDERS[sort.value] || byName;
    if (!group.checked) return cards.slice().sort(order);
    // Each group sits where its first job sorts; inside it, takes in order.
    const first = new Map();
    for (const card of cards.slice().sort(order)) {
      if (!first.has(card.dataset.group)) first.set(card.dataset.group, first.size);
    }
    return cards.slice().sort((a, b) =>
      first.get(a.dataset.group) - first.get(b.dataset.group) ||
      Number(a.dataset.take) - Number(b.dataset.take) || byName(a, b));
  }

  function place(list) {
    main.replaceChildren();
    main.classList.toggle("grouped", group.checked);
    if (!group.checked) {
      main.append(...list);
      return;
    }
    let section = null;
    for (const card of list) {
      if (!section || section.dataset.group !== card.dataset.group) {
        section = document.createElement("section");
        section.className = "group";
        section.dataset.group = card.dataset.group;
        main.append(section);
      }
      section.append(card);
    }
    hideEmptyGroups();
  }

  function hideEmptyGroups() {
    for (const section of main.querySelectorAll("section.group")) {
      section.hidden = !Array.from(section.children).some((card) => !card.hidden);
    }
  }

  let layout = "";

  function update() {
    const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let count = 0;
    for (const card of cards) {
      card.hidden = !matches(card, terms);
      if (!card.hidden) count += 1;
    }
    const wanted = sort.value + " " + group.checked;
    if (wanted !== layout) {
      layout = wanted;
      place(sorted());
    } else if (group.checked) {
      hideEmptyGroups();
    }
    shown.textContent = count + " of " + cards.length + " jobs";
  }

  // A step's clips are a <template> until they come near the viewport; then they become videos.
  const lazy = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const box = entry.target;
      lazy.unobserve(box);
      for (const held of box.querySelectorAll("template")) {
        held.replaceWith(held.content.cloneNode(true));
      }
      box.classList.remove("lazy");
      box.dispatchEvent(new Event("mjv:shown", { bubbles: true }));
    }
  }, { rootMargin: "800px 0px" });
  for (const box of main.querySelectorAll(".clips.lazy")) lazy.observe(box);

  window.mjvReport = { update };  // the review page's script filters again after a verdict
  document.getElementById("controls").addEventListener("input", update);
  document.getElementById("controls").addEventListener("submit", (event) => event.preventDefault());
  update();
})();
