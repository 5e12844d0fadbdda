// After a successful autosave, the saved section's form edits the version it just
// wrote (sent back in X-Postmortem-Version). Only that form: conflicts are per
// section, and another section's form must keep the version its content was loaded
// at, or a later save there could overwrite someone else's newer text.
(function () {
  "use strict";
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status >= 300) {
      return;
    }
    var version = xhr.getResponseHeader("X-Postmortem-Version");
    var form = event.detail.elt && event.detail.elt.closest("form.pm-form");
    if (!version || !form) {
      return;
    }
    var input = form.querySelector("input.pm-version");
    if (input && Number(input.value) < Number(version)) {
      input.value = version;
    }
    var tag = document.getElementById("pm-version-tag");
    if (tag) {
      tag.textContent = "Version " + version;
    }
  });
})();
