// Keyboard shortcuts for signed-in pages (templates/common/shortcuts_dialog.html lists
// them; the dialog carries the addresses). "?" opens the help, a modal <dialog>: the
// page behind is inert, Tab stays inside, Esc closes it and focus returns where it was.
// Shortcuts never fire while typing (inputs, textareas, selects, contenteditable), with
// Ctrl/Alt/Meta held, or while another dialog is open.
(function () {
  "use strict";

  var SEQUENCE_MS = 1500;
  var pendingG = 0;
  var current = -1;

  function typing(target) {
    if (!target || !target.closest) {
      return false;
    }
    return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"));
  }

  function dialog() {
    return document.getElementById("shortcuts-dialog");
  }

  function openHelp(opener) {
    var help = dialog();
    if (!help || help.open) {
      return;
    }
    help.returnFocusTo = opener || document.activeElement;
    help.showModal();
    help.querySelector("[data-shortcuts-close]").focus();
  }

  function closeHelp() {
    var help = dialog();
    if (help && help.open) {
      help.close();
    }
  }

  function trapFocus(event) {
    var help = dialog();
    if (event.key !== "Tab" || !help || !help.open) {
      return;
    }
    var focusable = help.querySelectorAll("button, a[href], [tabindex]:not([tabindex='-1'])");
    if (!focusable.length) {
      return;
    }
    var first = focusable[0];
    var last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  function go(url) {
    if (url) {
      window.location.assign(url);
    }
  }

  function listRows() {
    return Array.prototype.filter.call(
      document.querySelectorAll("main table tbody tr"),
      function (row) { return row.querySelector("a[href]"); }
    );
  }

  function moveInList(step) {
    var rows = listRows();
    if (!rows.length) {
      return false;
    }
    var focused = rows.findIndex(function (row) { return row.contains(document.activeElement); });
    if (focused !== -1) {
      current = focused;
    }
    rows.forEach(function (row) { row.classList.remove("shortcut-current"); });
    current = Math.max(0, Math.min(rows.length - 1, current === -1 && step < 0 ? 0 : current + step));
    var row = rows[current];
    row.classList.add("shortcut-current");
    row.querySelector("a[href]").focus();
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function focusSearch() {
    var field = document.querySelector("main input[type=search], main input[name=q]");
    if (!field) {
      return false;
    }
    field.focus();
    field.select();
    return true;
  }

  function editIncident() {
    var match = window.location.pathname.match(/^\/incidents\/(\d+)\//);
    if (!match) {
      return false;
    }
    var link = document.querySelector('a[href="/incidents/' + match[1] + '/edit/"]');
    if (!link) {
      return false;
    }
    go(link.getAttribute("href"));
    return true;
  }

  function onKey(event) {
    var help = dialog();
    if (!help) {
      return;
    }
    if (help.open) {
      trapFocus(event);
      return; // Esc is the dialog's own (cancel event)
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    if (document.querySelector("dialog[open]")) {
      return;
    }
    var key = event.key;
    var handled = true;
    if (pendingG && Date.now() - pendingG < SEQUENCE_MS) {
      pendingG = 0;
      var target = help.getAttribute("data-go-" + key.toLowerCase());
      if (target) {
        go(target);
      } else {
        handled = false;
      }
    } else if (key === "g") {
      pendingG = Date.now();
    } else if (key === "?") {
      openHelp();
    } else if (key === "n") {
      handled = Boolean(help.getAttribute("data-new"));
      go(help.getAttribute("data-new"));
    } else if (key === "/") {
      handled = focusSearch();
    } else if (key === "e") {
      handled = editIncident();
    } else if (key === "j" || key === "k") {
      handled = moveInList(key === "j" ? 1 : -1);
    } else {
      handled = false;
    }
    if (handled) {
      event.preventDefault();
    }
  }

  document.addEventListener("keydown", onKey);
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-shortcuts-open]");
    if (opener) {
      event.preventDefault();
      openHelp(opener);
    } else if (event.target.closest("[data-shortcuts-close]")) {
      closeHelp();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-shortcuts-open]").forEach(function (link) { link.hidden = false; });
    var help = dialog();
    if (help) {
      help.addEventListener("close", function () {
        var back = help.returnFocusTo;
        if (back && back.focus && document.contains(back)) {
          back.focus();
        }
      });
    }
  });
})();
