// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Times are rendered in UTC; the tooltip gives the reader's local time.
  function localiseTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (element) {
      if (element.title || element.getAttribute("datetime").startsWith("P")) {
        return;
      }
      var when = new Date(element.getAttribute("datetime"));
      if (!isNaN(when)) {
        element.title = when.toLocaleString() + " (your time)";
      }
    });
  }

  // After a swap the submitted form is gone: put focus somewhere that explains the result.
  function focusAfterSwap(target) {
    var invalid = target.querySelector("[aria-invalid='true'], .form-errors");
    var notice = target.querySelector("[data-notice]");
    var focusable = invalid || notice;
    if (!focusable) {
      return;
    }
    if (!invalid) {
      notice.tabIndex = -1;
    } else if (invalid.classList.contains("form-errors")) {
      invalid.tabIndex = -1;
      var details = invalid.closest("details");
      if (details) {
        details.open = true;
      }
    }
    focusable.focus({ preventScroll: !invalid });
  }

  function showRequestError(message) {
    var banner = document.getElementById("request-error");
    if (!banner) {
      return;
    }
    banner.textContent = message;
    banner.hidden = !message;
  }

  // Copy buttons ([data-copy="<textarea id>"]) exist only where JavaScript runs.
  function enableCopyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function copyText(button) {
    var id = button.getAttribute("data-copy");
    var source = document.getElementById(id);
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    var say = function (text) {
      if (status) {
        status.textContent = text;
      }
    };
    var fallback = function () {
      source.focus();
      source.select();
      say(document.execCommand("copy") ? "Copied." : "Selected: press Ctrl+C to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(function () {
        say("Copied.");
      }, fallback);
    } else {
      fallback();
    }
  }

  // The composer: say what "From the components" gives for the statuses picked, and
  // tick Public and the audiences routed only for public updates while a public status
  // is chosen (unless the responder ticked or unticked them by hand).
  var IMPACT_RANK = { none: 0, minor: 1, major: 2, critical: 3 };
  var IMPACT_LABEL = { none: "None", minor: "Minor", major: "Major", critical: "Critical" };

  function composerImpact(form) {
    var auto = form.querySelector("option[data-auto-impact]");
    if (!auto) {
      return;
    }
    var worst = "none";
    form.querySelectorAll("select[data-component-status]").forEach(function (select) {
      var option = select.options[select.selectedIndex];
      var impact = option && option.getAttribute("data-impact");
      if (impact && IMPACT_RANK[impact] > IMPACT_RANK[worst]) {
        worst = impact;
      }
    });
    auto.textContent = "From the components: " + IMPACT_LABEL[worst];
  }

  function composerRouting(form) {
    var status = form.querySelector("#id_public_status");
    var isPublic = Boolean(status && status.value);
    // The public audience itself, and those routed only for public updates.
    var boxes = form.querySelectorAll("input[data-routed='public'], input[name=audiences][value=public]");
    boxes.forEach(function (box) {
      if (!box.hasAttribute("data-touched")) {
        box.checked = isPublic;
      }
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest("#update-form");
    if (!form) {
      return;
    }
    if (event.target.matches("input[name=audiences]")) {
      event.target.setAttribute("data-touched", "");
    } else if (event.target.matches("select[data-component-status]")) {
      composerImpact(form);
    } else if (event.target.id === "id_public_status") {
      composerRouting(form);
    }
  });

  // A file field with data-max-bytes (and data-file-noun, "logo") says at once when the
  // chosen file is too big, on the field, before the upload; the server refuses it the
  // same way without this.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches("input[type=file][data-max-bytes]")) {
      return;
    }
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var file = input.files && input.files[0];
    var message = "";
    if (file && file.size > max) {
      var noun = input.getAttribute("data-file-noun") || "file";
      message = "The " + noun + " is " + Math.floor(file.size / 1024) +
        " KB; at most " + Math.floor(max / 1024) + " KB.";
    }
    input.setCustomValidity(message);
    if (message) {
      input.reportValidity();
    }
  });

  // A decision form offers a few option rows; "Add an option" adds one more (up to 20),
  // renumbering the copy's text field and radio button. Without JavaScript, the rows
  // the server rendered are all there is.
  var MAX_DECISION_OPTIONS = 20;

  function enableAddOption(root) {
    root.querySelectorAll("button[data-add-option]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function addOption(button) {
    var picker = button.closest("fieldset");
    var rows = picker.querySelectorAll("[data-option-row]");
    if (rows.length >= MAX_DECISION_OPTIONS) {
      button.hidden = true;
      return;
    }
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    var index = rows.length;
    copy.classList.remove("has-error");
    copy.querySelectorAll("input").forEach(function (input) {
      input.id = input.id.replace(/\d+$/, String(index));
      if (input.type === "radio") {
        input.value = String(index);
        input.checked = false;
      } else {
        input.name = input.name.replace(/_\d+$/, "_" + index);
        input.value = "";
        input.removeAttribute("placeholder");
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
    });
    var labels = copy.querySelectorAll("label");
    labels[0].htmlFor = copy.querySelector("input[type=radio]").id;
    labels[0].textContent = "Option " + (index + 1) + " is the chosen one";
    labels[1].htmlFor = copy.querySelector("input[type=text]").id;
    labels[1].textContent = "Option " + (index + 1);
    button.parentNode.insertBefore(copy, button);
    copy.querySelector("input[type=text]").focus();
    if (index + 1 >= MAX_DECISION_OPTIONS) {
      button.hidden = true;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) {
      copyText(button);
    }
    var add = event.target.closest("button[data-add-option]");
    if (add) {
      addOption(add);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    localiseTimes(document);
    enableCopyButtons(document);
    enableAddOption(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    localiseTimes(event.detail.elt);
    enableCopyButtons(event.detail.elt);
    enableAddOption(event.detail.elt);
    focusAfterSwap(event.detail.elt);
  });
  // static/js/live.js swapped in a fragment someone else changed.
  document.addEventListener("keel:live-swapped", function (event) {
    localiseTimes(event.target);
    enableCopyButtons(event.target);
    enableAddOption(event.target);
  });
  document.addEventListener("htmx:beforeRequest", function () {
    showRequestError("");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    showRequestError(
      status === 403
        ? "You do not have permission to do this."
        : "The request failed (HTTP " + status + "). Reload the page and try again."
    );
  });
  document.addEventListener("htmx:sendError", function () {
    showRequestError("Keel could not be reached. Check your connection and try again.");
  });
})();
