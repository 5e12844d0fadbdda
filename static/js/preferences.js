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
      select.dispatchEvent(new Event("change", { bubbles: true }));
      // The picker (typeahead.js) redraws its chip from the select.
      select.dispatchEvent(new CustomEvent("typeahead:refresh"));
      offer.hidden = true;
    });
  });
})();
