// Keeps every section form's expected version current after a successful autosave.
// Conflicts are per section (the server compares the section's last saved version),
// so this only keeps the version tag and the forms in step with the document.
(function () {
  "use strict";
  document.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status >= 300) {
      return;
    }
    var version = xhr.getResponseHeader("X-Postmortem-Version");
    if (!version) {
      return;
    }
    document.querySelectorAll("input.pm-version").forEach(function (input) {
      if (Number(input.value) < Number(version)) {
        input.value = version;
      }
    });
    var tag = document.getElementById("pm-version-tag");
    if (tag) {
      tag.textContent = "Version " + version;
    }
  });
})();
