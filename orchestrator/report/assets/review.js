"use strict";
// The review page of `mjv review`: verdicts, stars and notes, by click and by keyboard.
// Every change goes to the page's own server, which writes the review file and answers with
// the state of the clip's whole step (approving one clip withdraws its siblings' approval).
(function () {
  const token = document.querySelector('meta[name="mjv-token"]').content;
  const saving = document.getElementById("saving");
  const verdictFilter = document.getElementById("verdict");
  const starsFilter = document.getElementById("stars");
  let current = null;
  let queue = Promise.resolve();
  let pending = 0;

  let shownClips = null;  // the clips in page order, made again after a filter or a sort

  function figures() {
    if (!shownClips) {
      shownClips = Array.from(document.querySelectorAll("figure.clip")).filter(
        (clip) => !clip.hidden && !clip.closest("article.card").hidden);
    }
    return shownClips;
  }

  function state(clip) {
    const note = clip.querySelector("[data-note]");
    return { verdict: clip.dataset.verdictNow, stars: Number(clip.dataset.stars),
      note: clip.dataset.noteNow ?? (note ? note.value : "") };
  }

  function show(clip, state) {
    clip.dataset.verdictNow = state.verdict;
    clip.dataset.stars = String(state.stars);
    for (const button of clip.querySelectorAll("[data-verdict]")) {
      button.setAttribute("aria-pressed", String(button.dataset.verdict === state.verdict));
    }
    for (const star of clip.querySelectorAll("[data-set-stars]")) {
      star.setAttribute("aria-pressed", String(Number(star.dataset.setStars) <= state.stars));
    }
    clip.dataset.noteNow = state.note;
    const note = clip.querySelector("[data-note]");
    if (note && document.activeElement !== note) note.value = state.note;
  }

  function answered(reply) {
    for (const [path, state] of Object.entries(reply.clips)) {
      const clip = document.querySelector(`figure.clip[data-clip="${CSS.escape(path)}"]`);
      if (clip) show(clip, state);
    }
    for (const [name, count] of Object.entries(reply.counts)) {
      const total = document.querySelector(`[data-total="${name}"] b`);
      if (total) total.textContent = String(count);
    }
    if (verdictFilter.value || starsFilter.value) {
      window.mjvReport.update();
      shownClips = null;
    }
  }

  function send(clip, change) {
    const body = JSON.stringify({ clip: clip.dataset.clip, sha256: clip.dataset.sha256, ...change });
    pending += 1;
    saving.textContent = "saving…";
    // One request at a time, in order: two quick keys on one clip land as pressed.
    queue = queue.then(() => fetch("/api/verdict", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-MJV-Token": token },
      body,
    }).then(async (response) => {
      const reply = await response.json();
      if (!response.ok) throw new Error(reply.error || response.statusText);
      answered(reply);
      pending -= 1;
      saving.textContent = pending ? "saving…" : "saved";
      saving.classList.remove("error-banner");
    }).catch((error) => {
      pending -= 1;
      saving.textContent = "not saved: " + error.message;
      saving.classList.add("error-banner");
    }));
  }

  function verdict(clip, name) {
    const same = clip.dataset.verdictNow === name;
    send(clip, { verdict: same ? "" : name });  // pressing it again makes it unreviewed
  }

  function stars(clip, count) {
    send(clip, { stars: Number(clip.dataset.stars) === count ? 0 : count });
  }

  function select(clip) {
    if (!clip) return;
    if (current) {
      current.classList.remove("current");
      const playing = current.querySelector("video");
      if (playing) playing.pause();
    }
    current = clip;
    clip.classList.add("current");
    clip.scrollIntoView({ block: "nearest" });  // scrolls only when it is not in view
  }

  function play(clip) {
    const video = clip.querySelector("video");
    if (!video) return;
    if (video.paused) video.play().catch(() => {});
    else video.pause();
  }

  function step(by) {
    const list = figures();
    const at = list.indexOf(current);
    select(list[at < 0 ? (by > 0 ? 0 : list.length - 1) : at + by]);
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-verdict], [data-set-stars]");
    if (!target) return;
    const clip = target.closest("figure.clip");
    select(clip);
    if (target.dataset.verdict) verdict(clip, target.dataset.verdict);
    else stars(clip, Number(target.dataset.setStars));
  });

  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-note]")) return;
    send(event.target.closest("figure.clip"), { note: event.target.value });
  });

  const KEYS = {
    j: () => step(1), ArrowDown: () => step(1), ArrowRight: () => step(1),
    k: () => step(-1), ArrowUp: () => step(-1), ArrowLeft: () => step(-1),
    a: () => { verdict(current, "approved"); step(1); },
    x: () => { verdict(current, "rejected"); step(1); },
    r: () => { verdict(current, "rejected"); step(1); },
    u: () => send(current, { verdict: "" }),
    n: () => current.querySelector("[data-note]")?.focus(),
    p: () => play(current),
    " ": () => play(current),
  };

  const MOVES = new Set(["j", "k", "ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"]);

  document.addEventListener("keydown", (event) => {
    const typing = event.target.matches("input, select, textarea");
    if (typing && event.target.matches("[data-note]") && ["Escape", "Enter"].includes(event.key)) {
      event.target.blur();
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    const action = KEYS[key] || (/^[0-5]$/.test(key) ? () => stars(current, Number(key)) : null);
    if (!action) return;
    event.preventDefault();
    if (!current) {
      step(1);  // the first key picks the first clip shown
      if (MOVES.has(key) || !current) return;
    }
    action();
  });

  // Stars and note inputs are made with the video, when the card nears the screen: they show
  // what the clip's data says now (a key may have changed it before they existed).
  document.addEventListener("mjv:shown", (event) => {
    for (const clip of event.target.querySelectorAll("figure.clip")) show(clip, state(clip));
  });

  document.getElementById("controls").addEventListener("input", () => {
    shownClips = null;
    if (current && (current.hidden || current.closest("article.card").hidden)) {
      current.classList.remove("current");
      current = null;
    }
  });
})();
