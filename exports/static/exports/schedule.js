"use strict";
// The schedule form (admin, ExportSchedule): shows only the chosen kind's fields and the next
// three runs of the timing as it stands. Without this file the form still works: every field
// shows under a heading naming its kind, the server ignores the other kinds' fields, and the
// "Next runs" line is computed when the page is drawn.
(function () {
  const TIMING = ["kind", "every", "unit", "weekdays", "at_time", "cron", "starts_at_0", "starts_at_1"];

  function showKind(form) {
    const kind = form.querySelector("select[name=kind]").value;
    const unit = form.querySelector("select[name=unit]");
    for (const set of form.querySelectorAll("fieldset.schedule-kind")) {
      let on = set.classList.contains("kind-" + kind);
      if (on && kind === "interval" && set.classList.contains("time-of-day")) {
        on = !unit || unit.value !== "hours"; // every N hours runs at no time of day
      }
      set.style.display = on ? "" : "none";
    }
  }

  function timingQuery(form) {
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (TIMING.includes(name) && typeof value === "string") query.append(name, value);
    }
    return query;
  }

  function watchNextRuns(form, line) {
    let asked = 0;
    async function refresh() {
      const mine = ++asked;
      line.setAttribute("aria-busy", "true");
      let text;
      try {
        const response = await fetch(line.dataset.url + "?" + timingQuery(form), {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const body = await response.json();
        text = body.text || body.error;
      } catch (error) {
        text = "—";
      }
      if (mine === asked) {
        line.textContent = text;
        line.removeAttribute("aria-busy");
      }
    }
    let timer = null;
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    };
    form.addEventListener("change", soon);
    form.addEventListener("input", soon);
    refresh();
  }

  function setUp() {
    const form = document.getElementById("exportschedule_form");
    if (!form || !form.querySelector("select[name=kind]")) return;
    showKind(form);
    form.addEventListener("change", () => showKind(form));
    const line = document.getElementById("next-runs");
    if (line) {
      line.setAttribute("aria-live", "polite");
      watchNextRuns(form, line);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
