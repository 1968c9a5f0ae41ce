"use strict";
// The export options page's column rows: reorder them in the page with each row's up/down
// buttons (mouse or keyboard; the focus stays on the button pressed) or by dragging a row.
// Each row carries its column's name in a hidden input, so the order the rows stand in is
// the order posted. Without this file the same buttons post the form and the server redraws it.
(function () {
  function announce(list, row) {
    const status = list.parentElement.querySelector(".column-order-status");
    const rows = Array.from(list.children);
    const label = row.querySelector("label");
    if (status && label) {
      status.textContent = `${label.textContent.trim()}: ${rows.indexOf(row) + 1} of ${rows.length}`;
    }
  }

  function moveRow(list, row, up, button) {
    const other = up ? row.previousElementSibling : row.nextElementSibling;
    if (!other) return;
    list.insertBefore(up ? row : other, up ? other : row);
    if (button) button.focus();
    announce(list, row);
  }

  function enableButtons(list) {
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[name=move_column]");
      if (!button) return;
      event.preventDefault();
      moveRow(list, button.closest("li"), button.classList.contains("column-up"), button);
    });
  }

  function enableDragging(list) {
    let dragged = null;
    for (const row of list.children) row.draggable = true;
    list.addEventListener("dragstart", (event) => {
      dragged = event.target.closest("li");
      if (!dragged) return;
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.column);
    });
    list.addEventListener("dragover", (event) => {
      const over = event.target.closest("li");
      if (!dragged || !over || over === dragged) return;
      event.preventDefault();
      const box = over.getBoundingClientRect();
      const after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? over.nextElementSibling : over);
    });
    list.addEventListener("drop", (event) => event.preventDefault());
    list.addEventListener("dragend", () => {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      announce(list, dragged);
      dragged = null;
    });
  }

  function setUp() {
    for (const list of document.querySelectorAll("ol.column-order")) {
      if (list.dataset.enhanced) continue;
      list.dataset.enhanced = "1";
      enableButtons(list);
      enableDragging(list);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
