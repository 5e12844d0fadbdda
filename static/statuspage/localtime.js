/* Keel status page: every <time data-local> says its time in the page's time zone
   (data-zone, set in Settings → Status page; UTC without it) and, when the reader's
   clock differs, the reader's own ("Dec 1, 2026, 1:04 PM UTC (2:04 PM your time)").
   Optional: without it the page reads "1 Dec 2026, 13:04 UTC". */
(function () {
  var utc, localTime, localDay, zoneName;
  try {
    utc = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
    localTime = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
    localDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
    zoneName = new Intl.DateTimeFormat(undefined, { timeZoneName: "long" });
  } catch (e) {
    return;
  }
  function ymd(date, zone) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
  }
  var nodes = document.querySelectorAll("time[data-local]");
  for (var i = 0; i < nodes.length; i++) {
    var node = nodes[i];
    var when = new Date(node.getAttribute("datetime"));
    if (isNaN(when)) continue;
    var pageZone = node.getAttribute("data-zone");
    if (pageZone) {
      try {
        node.textContent = new Intl.DateTimeFormat(undefined, {
          year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
          timeZone: pageZone, timeZoneName: "short"
        }).format(when);
      } catch (e) {
        continue; // a zone this browser does not know: keep the server's text
      }
      if (ymd(when, pageZone) === ymd(when, undefined) &&
          new Intl.DateTimeFormat("en-GB", { timeZone: pageZone, hour: "2-digit", minute: "2-digit" }).format(when) ===
          new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" }).format(when)) continue;
    } else {
      node.textContent = utc.format(when) + " UTC";
      if (when.getTimezoneOffset() === 0) continue; // the reader's clock is UTC's
    }
    var sameDay = ymd(when, pageZone || "UTC") === ymd(when, undefined);
    var local = document.createElement("span");
    local.className = "local-time";
    local.textContent = " (" + (sameDay ? localTime : localDay).format(when) + " your time)";
    var zone = zoneName.formatToParts(when).filter(function (p) { return p.type === "timeZoneName"; });
    if (zone.length) local.title = zone[0].value;
    node.appendChild(local);
  }
})();
