// /me/preferences/: offer the browser's own time zone when it differs from the choice.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var offer = document.querySelector("[data-browser-zone]");
    var select = document.getElementById("id_time_zone");
    var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!offer || !select || !zone || select.value === zone) {
      return;
    }
    var option = Array.prototype.find.call(select.options, function (item) { return item.value === zone; });
    if (!option) {
      return;
    }
    offer.querySelector("[data-browser-zone-name]").textContent = zone;
    offer.hidden = false;
    offer.querySelector("[data-browser-zone-use]").addEventListener("click", function () {
      option.selected = true;
      // The picker (typeahead.js) redraws its chip on the select's change.
      select.dispatchEvent(new Event("change", { bubbles: true }));
      offer.hidden = true;
    });
  });
})();
